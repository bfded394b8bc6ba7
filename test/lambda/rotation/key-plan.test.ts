import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
  AccessKeyLastUse,
  AccessKeyMetadata,
} from '../../../lambda/aws/iam-access-key-store.js';
import {
  ACCESS_KEYS_PER_USER,
  keysAwaitingLastUse,
  needsOrphanCutoff,
  planKeyRemoval,
  staleBefore,
  type KeyRemovalInput,
} from '../../../lambda/rotation/key-plan.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const DAY = 86_400_000;

const key = (
  accessKeyId: string,
  status: AccessKeyMetadata['status'],
  createDate: string,
): AccessKeyMetadata => ({ accessKeyId, status, createDate: new Date(createDate) });

const usedDaysAgo = (accessKeyId: string, days: number): AccessKeyLastUse => ({
  accessKeyId,
  lastUsedDate: new Date(NOW - days * DAY),
  serviceName: 's3',
  region: 'eu-west-1',
});

const never = (accessKeyId: string): AccessKeyLastUse => ({ accessKeyId });

/** A creating plan (room for one new key) with a 7-day staleness window. */
const input = (overrides: Partial<KeyRemovalInput>): KeyRemovalInput => ({
  keys: [],
  currentAccessKeyId: undefined,
  previousAccessKeyId: undefined,
  orphanCutoff: undefined,
  reservedSlots: 0,
  slotsNeeded: 1,
  lastUse: new Map(),
  staleBefore: staleBefore(NOW, 7),
  ...overrides,
});

const uses = (...entries: AccessKeyLastUse[]): Map<string, AccessKeyLastUse> =>
  new Map(entries.map((entry) => [entry.accessKeyId, entry]));

const removedIds = (plan: ReturnType<typeof planKeyRemoval>): string[] =>
  plan.kind === 'remove' ? plan.removals.map((removal) => removal.key.accessKeyId) : [];

describe('Function: planKeyRemoval', () => {
  describe('Once the secret holds a key (steady state)', () => {
    it('retires the Inactive AWSPREVIOUS key without asking for its last use', () => {
      const current = key('AKIACURRENT000000000', 'Active', '2026-10-01');
      const previous = key('AKIAPREVIOUS00000000', 'Inactive', '2026-09-01');
      const base = input({ keys: [current, previous], currentAccessKeyId: current.accessKeyId });

      expect(keysAwaitingLastUse(base)).toEqual([]);
      expect(planKeyRemoval(base)).toEqual({
        kind: 'remove',
        removals: [{ key: previous, reason: 'not Active' }],
      });
    });

    it('retires an Active AWSPREVIOUS key (the key rolled back from) whatever its use', () => {
      const current = key('AKIACURRENT000000000', 'Active', '2026-09-01');
      const previous = key('AKIAROLLEDBACKFROM00', 'Active', '2026-10-01');

      const plan = planKeyRemoval(
        input({
          keys: [current, previous],
          currentAccessKeyId: current.accessKeyId,
          previousAccessKeyId: previous.accessKeyId,
        }),
      );

      expect(plan).toEqual({
        kind: 'remove',
        removals: [{ key: previous, reason: 'AWSPREVIOUS' }],
      });
    });

    it('removes a key the secret does not hold when it was never used (an orphan or a key made by hand)', () => {
      const current = key('AKIACURRENT000000000', 'Active', '2026-10-01');
      const stray = key('AKIASTRAY00000000000', 'Active', '2026-11-01');
      const base = input({ keys: [current, stray], currentAccessKeyId: current.accessKeyId });

      expect(keysAwaitingLastUse(base)).toEqual([stray]);
      expect(planKeyRemoval({ ...base, lastUse: uses(never(stray.accessKeyId)) })).toEqual({
        kind: 'remove',
        removals: [{ key: stray, reason: 'unused', lastUse: never(stray.accessKeyId) }],
      });
    });

    it('fails when the only other key was used within staleKeyDays: no room, nothing removed', () => {
      const current = key('AKIACURRENT000000000', 'Active', '2026-10-01');
      const inUse = key('AKIAINUSE00000000000', 'Active', '2026-11-01');

      const plan = planKeyRemoval(
        input({
          keys: [current, inUse],
          currentAccessKeyId: current.accessKeyId,
          lastUse: uses(usedDaysAgo(inUse.accessKeyId, 6)),
        }),
      );

      expect(plan).toEqual({
        kind: 'no-room',
        blocking: [
          { key: current, role: 'AWSCURRENT' },
          { key: inUse, role: 'in use', lastUse: usedDaysAgo(inUse.accessKeyId, 6) },
        ],
      });
    });

    it('removes a key last used longer ago than staleKeyDays', () => {
      const current = key('AKIACURRENT000000000', 'Active', '2026-10-01');
      const stale = key('AKIASTALE00000000000', 'Active', '2026-01-01');

      const plan = planKeyRemoval(
        input({
          keys: [current, stale],
          currentAccessKeyId: current.accessKeyId,
          lastUse: uses(usedDaysAgo(stale.accessKeyId, 8)),
        }),
      );

      expect(removedIds(plan)).toEqual([stale.accessKeyId]);
    });
  });

  describe('At the first rotation (the secret holds no key yet)', () => {
    it('keeps a key the user already had while there is room, without asking for its use', () => {
      const own = key('AKIAOWN0000000000000', 'Active', '2025-01-01');
      const base = input({ keys: [own], orphanCutoff: new Date('2026-11-01') });

      expect(keysAwaitingLastUse(base)).toEqual([]);
      expect(planKeyRemoval(base)).toEqual({ kind: 'remove', removals: [] });
    });

    it('deletes an Inactive key to make room rather than an Active one', () => {
      const active = key('AKIAOLDACTIVE0000000', 'Active', '2025-01-01');
      const inactive = key('AKIANEWINACTIVE00000', 'Inactive', '2025-06-01');
      const base = input({ keys: [active, inactive] });

      expect(keysAwaitingLastUse(base)).toEqual([]);
      expect(removedIds(planKeyRemoval(base))).toEqual([inactive.accessKeyId]);
    });

    it('deletes the least recently used of two Active keys when neither was used within staleKeyDays', () => {
      const older = key('AKIAOLDER00000000000', 'Active', '2024-01-01');
      const newer = key('AKIANEWER00000000000', 'Active', '2025-01-01');
      const base = input({ keys: [older, newer] });

      expect(keysAwaitingLastUse(base)).toEqual([older, newer]);
      const plan = planKeyRemoval({
        ...base,
        lastUse: uses(usedDaysAgo(older.accessKeyId, 10), usedDaysAgo(newer.accessKeyId, 40)),
      });
      expect(removedIds(plan)).toEqual([newer.accessKeyId]);
    });

    it('deletes a never used key before one used within staleKeyDays', () => {
      const inUse = key('AKIAINUSE00000000000', 'Active', '2024-01-01');
      const unused = key('AKIAUNUSED0000000000', 'Active', '2025-01-01');

      const plan = planKeyRemoval(
        input({
          keys: [inUse, unused],
          lastUse: uses(usedDaysAgo(inUse.accessKeyId, 0), never(unused.accessKeyId)),
        }),
      );

      expect(plan).toEqual({
        kind: 'remove',
        removals: [{ key: unused, reason: 'unused', lastUse: never(unused.accessKeyId) }],
      });
    });

    it('fails when both keys were used within staleKeyDays: no room, nothing removed', () => {
      const first = key('AKIAFIRST00000000000', 'Active', '2024-01-01');
      const second = key('AKIASECOND0000000000', 'Active', '2025-01-01');

      const plan = planKeyRemoval(
        input({
          keys: [first, second],
          lastUse: uses(usedDaysAgo(first.accessKeyId, 1), usedDaysAgo(second.accessKeyId, 6)),
        }),
      );

      expect(plan.kind).toBe('no-room');
      expect(plan.kind === 'no-room' ? plan.blocking.map((entry) => entry.role) : []).toEqual([
        'in use',
        'in use',
      ]);
    });

    it('removes an unused key created after the AWSCURRENT version (to the second) as an orphan', () => {
      const orphan = key('AKIAORPHAN0000000000', 'Active', '2026-03-01T10:00:00.000Z');
      const base = input({ keys: [orphan], orphanCutoff: new Date('2026-03-01T10:00:00.750Z') });

      expect(keysAwaitingLastUse(base)).toEqual([orphan]);
      expect(planKeyRemoval({ ...base, lastUse: uses(never(orphan.accessKeyId)) })).toMatchObject({
        kind: 'remove',
        removals: [{ key: orphan, reason: 'orphan' }],
      });
    });

    it('keeps a key created after the AWSCURRENT version that was used: not an orphan of ours', () => {
      const madeByHand = key('AKIAMADEBYHAND000000', 'Active', '2026-03-02');

      const plan = planKeyRemoval(
        input({
          keys: [madeByHand],
          orphanCutoff: new Date('2026-03-01'),
          lastUse: uses(usedDaysAgo(madeByHand.accessKeyId, 0)),
        }),
      );

      expect(plan).toEqual({ kind: 'remove', removals: [] });
    });
  });

  it('fails loudly when a last use it needs was not given', () => {
    expect(() =>
      planKeyRemoval(
        input({
          keys: [
            key('AKIAFIRST00000000000', 'Active', '2024-01-01'),
            key('AKIASECOND0000000000', 'Active', '2025-01-01'),
          ],
        }),
      ),
    ).toThrow(/last use of access key AKIAFIRST00000000000 is needed/);
  });

  const keyArbitrary = fc.record({
    accessKeyId: fc.stringMatching(/^AKIA[A-Z0-9]{16}$/),
    status: fc.constantFrom('Active', 'Inactive', 'Expired'),
    createDate: fc.date({
      min: new Date('2024-01-01'),
      max: new Date('2026-11-28'),
      noInvalidDate: true,
    }),
  });
  /** Never used, or used this many days ago. */
  const useArbitrary = fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined });

  it('never plans the AWSCURRENT key nor one in use, and either makes room or removes nothing (property)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.uniqueArray(fc.tuple(keyArbitrary, useArbitrary), {
          minLength: 0,
          maxLength: 2,
          selector: ([k]) => k.accessKeyId,
        }),
        fc.option(fc.nat({ max: 2 }), { nil: undefined }),
        fc.option(fc.nat({ max: 2 }), { nil: undefined }),
        fc.option(
          fc.date({
            min: new Date('2024-01-01'),
            max: new Date('2026-11-28'),
            noInvalidDate: true,
          }),
          { nil: undefined },
        ),
        fc.integer({ min: 1, max: 30 }),
        (resuming, entries, currentIndex, previousIndex, orphanCutoff, staleKeyDays) => {
          // A resumed rotation's pending key holds a slot outside `keys`.
          const keys = entries.map(([k]) => k).slice(0, resuming ? 1 : 2);
          const lastUse = uses(
            ...entries.map(([k, days]) =>
              days === undefined ? never(k.accessKeyId) : usedDaysAgo(k.accessKeyId, days),
            ),
          );
          const currentAccessKeyId =
            currentIndex === undefined ? undefined : keys[currentIndex]?.accessKeyId;
          const previousAccessKeyId =
            previousIndex === undefined ? undefined : keys[previousIndex]?.accessKeyId;
          const plan = planKeyRemoval({
            keys,
            currentAccessKeyId,
            previousAccessKeyId:
              previousAccessKeyId === currentAccessKeyId ? undefined : previousAccessKeyId,
            orphanCutoff,
            reservedSlots: resuming ? 1 : 0,
            slotsNeeded: resuming ? 0 : 1,
            lastUse,
            staleBefore: staleBefore(NOW, staleKeyDays),
          });
          const inUse = (id: string): boolean => {
            const date = lastUse.get(id)?.lastUsedDate;
            return date !== undefined && date.getTime() >= NOW - staleKeyDays * DAY;
          };
          if (plan.kind === 'no-room') {
            expect(resuming).toBe(false);
            expect(keys).toHaveLength(ACCESS_KEYS_PER_USER);
            for (const entry of plan.blocking) {
              if (entry.role === 'in use') expect(inUse(entry.key.accessKeyId)).toBe(true);
              else expect(entry.key.accessKeyId).toBe(currentAccessKeyId);
            }
            return;
          }
          const removed = plan.removals.map((removal) => removal.key);
          expect(removed.map((k) => k.accessKeyId)).not.toContain(currentAccessKeyId);
          expect(new Set(removed).size).toBe(removed.length);
          expect(
            keys.length - removed.length + (resuming ? 1 : 0) + (resuming ? 0 : 1),
          ).toBeLessThanOrEqual(ACCESS_KEYS_PER_USER);
          for (const removal of plan.removals) {
            const { accessKeyId, status } = removal.key;
            // A key in use goes only if it is the secret's own AWSPREVIOUS key or authenticates nothing.
            if (status === 'Active' && accessKeyId !== previousAccessKeyId) {
              expect(inUse(accessKeyId)).toBe(false);
            }
          }
          const kept = keys.filter(
            (k) => !removed.includes(k) && k.accessKeyId !== currentAccessKeyId,
          );
          for (const k of kept) expect(k.status).toBe('Active');
          if (currentAccessKeyId !== undefined) {
            // Once the secret holds a key, every other key goes unless it may be in use.
            for (const k of kept) expect(inUse(k.accessKeyId)).toBe(true);
          }
        },
      ),
      { numRuns: 3_000 },
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

  it('is false once the secret holds a key: its date would change nothing', () => {
    expect(
      needsOrphanCutoff(
        [key('AKIAOTHER00000000000', 'Active', '2025-01-01')],
        'AKIACURRENT000000000',
      ),
    ).toBe(false);
  });
});
