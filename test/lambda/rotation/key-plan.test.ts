import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AccessKeyMetadata } from '../../../lambda/aws/iam-access-key-store.js';
import {
  ACCESS_KEYS_PER_USER,
  needsOrphanCutoff,
  planKeyRemoval,
} from '../../../lambda/rotation/key-plan.js';

const key = (
  accessKeyId: string,
  status: AccessKeyMetadata['status'],
  createDate: string,
): AccessKeyMetadata => ({ accessKeyId, status, createDate: new Date(createDate) });

const keyArbitrary = fc.record({
  accessKeyId: fc.stringMatching(/^AKIA[A-Z0-9]{16}$/),
  status: fc.constantFrom('Active', 'Inactive', 'Expired'),
  createDate: fc.date({
    min: new Date('2024-01-01'),
    max: new Date('2027-01-01'),
    noInvalidDate: true,
  }),
});

describe('Function: planKeyRemoval', () => {
  it('retires an Inactive key that is not AWSCURRENT even when there is room', () => {
    // e.g. the AWSCURRENT key was deleted by hand, leaving the Inactive AWSPREVIOUS key
    const leftover = key('AKIALEFTOVER00000000', 'Inactive', '2025-01-01');
    const plan = planKeyRemoval({
      keys: [leftover],
      currentAccessKeyId: 'AKIADELETEDBYHAND000',
      orphanCutoff: undefined,
    });
    expect(plan).toEqual({ orphans: [], retire: [leftover] });
  });

  it('plans nothing when the user has room', () => {
    const plan = planKeyRemoval({
      keys: [key('AKIACURRENT000000000', 'Active', '2026-01-01')],
      currentAccessKeyId: 'AKIACURRENT000000000',
      orphanCutoff: undefined,
    });
    expect(plan).toEqual({ orphans: [], retire: [] });
  });

  it('retires an Inactive key before an older Active one', () => {
    const active = key('AKIAOLDACTIVE0000000', 'Active', '2025-01-01');
    const inactive = key('AKIANEWINACTIVE00000', 'Inactive', '2025-06-01');
    const plan = planKeyRemoval({
      keys: [active, inactive],
      currentAccessKeyId: undefined,
      orphanCutoff: undefined,
    });
    expect(plan.retire).toEqual([inactive]);
  });

  it('treats an Active unknown key created in the same second as the current version as an orphan', () => {
    const orphan = key('AKIAORPHAN0000000000', 'Active', '2026-03-01T10:00:00.000Z');
    const plan = planKeyRemoval({
      keys: [orphan],
      currentAccessKeyId: undefined,
      orphanCutoff: new Date('2026-03-01T10:00:00.750Z'),
    });
    expect(plan.orphans).toEqual([orphan]);
  });

  it('never plans the AWSCURRENT key and always leaves room for one more key (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(keyArbitrary, {
          minLength: 0,
          maxLength: 2,
          selector: (k) => k.accessKeyId,
        }),
        fc.option(fc.nat({ max: 2 }), { nil: undefined }),
        fc.option(
          fc.date({
            min: new Date('2024-01-01'),
            max: new Date('2027-01-01'),
            noInvalidDate: true,
          }),
          { nil: undefined },
        ),
        (keys, currentIndex, orphanCutoff) => {
          const currentAccessKeyId =
            currentIndex === undefined ? undefined : keys[currentIndex]?.accessKeyId;
          const plan = planKeyRemoval({ keys, currentAccessKeyId, orphanCutoff });
          const removed = [...plan.orphans, ...plan.retire];
          expect(removed.map((k) => k.accessKeyId)).not.toContain(currentAccessKeyId);
          expect(new Set(removed).size).toBe(removed.length);
          expect(keys.length - removed.length).toBeLessThanOrEqual(ACCESS_KEYS_PER_USER - 1);
          for (const orphan of plan.orphans) {
            expect(orphan.status).toBe('Active');
            expect(orphanCutoff).toBeDefined();
          }
          // Every other key left behind is Active: no inactive leftovers.
          const removedIds = new Set(removed.map((k) => k.accessKeyId));
          const kept = keys.filter((k) => !removedIds.has(k.accessKeyId));
          for (const k of kept) {
            if (k.accessKeyId !== currentAccessKeyId) expect(k.status).toBe('Active');
          }
          // Active keys the secret does not know are retired only as far as room requires.
          const activeKeptWithoutRetiring = keys.filter(
            (k) =>
              !plan.orphans.includes(k) &&
              (k.accessKeyId === currentAccessKeyId || k.status === 'Active'),
          );
          const retiredActive = plan.retire.filter((k) => k.status === 'Active').length;
          expect(retiredActive).toBe(Math.max(0, activeKeptWithoutRetiring.length - 1));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('Function: needsOrphanCutoff', () => {
  it('is false in the steady state (the non-current key is Inactive)', () => {
    expect(
      needsOrphanCutoff(
        [
          key('AKIACURRENT000000000', 'Active', '2026-01-01'),
          key('AKIAPREVIOUS00000000', 'Inactive', '2025-01-01'),
        ],
        'AKIACURRENT000000000',
      ),
    ).toBe(false);
  });

  it('is true at the first rotation when the user has an Active key', () => {
    expect(
      needsOrphanCutoff([key('AKIAOTHER00000000000', 'Active', '2025-01-01')], undefined),
    ).toBe(true);
  });

  it('is false once the secret holds a key: every other key goes whatever its date', () => {
    expect(
      needsOrphanCutoff(
        [key('AKIAOTHER00000000000', 'Active', '2025-01-01')],
        'AKIACURRENT000000000',
      ),
    ).toBe(false);
  });
});
