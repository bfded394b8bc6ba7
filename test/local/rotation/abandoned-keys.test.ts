import { CreateAccessKeyCommand } from '@aws-sdk/client-iam';
import {
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../../../local/simulation/index.js';
import { failFinishSecretMove } from '../../support/scenario/fault-matrix.js';
import { checkInvariants } from '../../support/scenario/invariants.js';
import { Scenario, SECRET_NAME, USER_NAME } from '../../support/scenario/scenario.js';

/**
 * Which keys createSecret takes for keys of abandoned versions of the secret (removed whatever
 * their last use): the key of a version that createSecret made the key for and that never
 * became AWSCURRENT, and no other (lambda/rotation/create-secret.ts, findAbandonedKeys).
 */
const ABANDONED_LOG = 'keys of abandoned versions of this secret make room';
const IN_USE_REFUSAL = 'none may be deleted to make room for a new one';

const failureMessages = (scenario: Scenario): string =>
  scenario.sim.invocations
    .filter((invocation) => invocation.outcome === 'failed')
    .map((invocation) => (invocation.error instanceof Error ? invocation.error.message : ''))
    .join('\n');

describe('Keys of abandoned versions of the secret', () => {
  it('removes, at the next rotation, the key of a first-rotation attempt that Secrets Manager abandoned for a new token after testSecret, though that version is older than AWSCURRENT', async () => {
    // The full fault matrix's 64 failures (first rotation, new token on retry): the retry found
    // room, so the abandoned key stayed; once the retry completed, its version was older than
    // AWSCURRENT's, and the key (which signed testSecret's STS call) blocked the next rotation.
    await Scenario.run(
      { rotation: { retry: { maxAttempts: 3, delayMs: 60_000, reuseToken: false } } },
      async (scenario) => {
        failFinishSecretMove(scenario);
        await scenario.rotateNow();
        await scenario.settle();
        const first = scenario.lastRotation;
        expect(first?.tokens.length).toBeGreaterThan(1);
        expect(first?.status).toBe('succeeded');
        const current = scenario.storedKeyId(AWSCURRENT);
        const abandoned = scenario.keys().find((key) => key.accessKeyId !== current);
        expect(abandoned, 'the abandoned attempt left its key').toBeDefined();
        expect(scenario.sim.accessKey(abandoned?.accessKeyId ?? '')?.lastUsedDate).toBeDefined();

        const next = await scenario.runScheduledRotation();

        expect(next.status, failureMessages(scenario)).toBe('succeeded');
        expect(scenario.logs.text).toContain(ABANDONED_LOG);
        expect(scenario.sim.accessKey(abandoned?.accessKeyId ?? '')).toBeUndefined();
        expect(scenario.storedKeyId(AWSPREVIOUS)).toBe(current);
        expect(checkInvariants(scenario)).toEqual([]);
      },
    );
  });

  it('never takes a key in use for abandoned because a value put by hand names it in a version without labels', async () => {
    // The version is newer than AWSCURRENT and carries no label, as an abandoned one, but its key
    // existed before it: createSecret did not make the key for it.
    await Scenario.run({}, async (scenario) => {
      await scenario.rotateNow();
      const created = await scenario.iam.send(new CreateAccessKeyCommand({ UserName: USER_NAME }));
      const handMade = created.AccessKey?.AccessKeyId ?? '';
      await scenario.sim.clock.sleep(60_000);
      await scenario.useKey(handMade);
      const put = await scenario.sm.send(
        new PutSecretValueCommand({
          SecretId: SECRET_NAME,
          SecretString: JSON.stringify({
            UserName: USER_NAME,
            AccessKeyId: handMade,
            SecretAccessKey: created.AccessKey?.SecretAccessKey,
          }),
          VersionStages: ['BY_HAND'],
        }),
      );
      await scenario.sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: SECRET_NAME,
          VersionStage: 'BY_HAND',
          RemoveFromVersionId: put.VersionId,
        }),
      );

      const rotation = await scenario.runScheduledRotation();

      expect(rotation.status).toBe('failed');
      expect(failureMessages(scenario)).toContain(IN_USE_REFUSAL);
      expect(scenario.logs.text).not.toContain(ABANDONED_LOG);
      expect(scenario.sim.accessKey(handMade)?.status).toBe('Active');
      expect(scenario.hasIncompleteRotation()).toBe(false);
    });
  });

  it('never takes the key of a version that was AWSCURRENT for abandoned once a value put by hand unlabelled it', async () => {
    // With a grace period the key the last rotation replaced stays Active; a value put by hand
    // then takes AWSPREVIOUS from its version (and its retirement no longer acts). The key was
    // made for that version, but the version was AWSCURRENT: peers may still use it.
    await Scenario.run({ gracePeriodSeconds: 3_600 }, async (scenario) => {
      await scenario.rotateNow();
      const replaced = scenario.storedKeyId(AWSCURRENT);
      await scenario.runScheduledRotation();
      expect(scenario.storedKeyId(AWSPREVIOUS)).toBe(replaced);
      await scenario.useKey(replaced);
      await scenario.applyOutOfBand('put-value-by-hand');
      expect(scenario.storedKeyId(AWSPREVIOUS)).not.toBe(replaced);

      const rotation = await scenario.runScheduledRotation();

      expect(rotation.status).toBe('failed');
      expect(failureMessages(scenario)).toContain(IN_USE_REFUSAL);
      expect(scenario.logs.text).not.toContain(ABANDONED_LOG);
      expect(scenario.sim.accessKey(replaced ?? '')?.status).toBe('Active');
      expect(scenario.storedKeyId(AWSPENDING)).toBeUndefined();
    });
  });

  it('never takes that key for abandoned when AWSPREVIOUS is then moved by hand to the version it replaced', async () => {
    // As above, then someone who may stage labels moves AWSPREVIOUS to the version the key's own
    // version replaced: the key's version now "replaced the AWSPREVIOUS version", which must not
    // make it look like a sibling that never became AWSCURRENT (attacker review).
    await Scenario.run({ gracePeriodSeconds: 3_600 }, async (scenario) => {
      const [initial] = scenario.versionIds();
      await scenario.rotateNow();
      const replaced = scenario.storedKeyId(AWSCURRENT);
      await scenario.runScheduledRotation();
      await scenario.useKey(replaced);
      await scenario.applyOutOfBand('put-value-by-hand');
      const previous = (
        await scenario.sm.send(
          new ListSecretVersionIdsCommand({ SecretId: SECRET_NAME, IncludeDeprecated: true }),
        )
      ).Versions?.find((version) => version.VersionStages?.includes(AWSPREVIOUS))?.VersionId;
      await scenario.sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: SECRET_NAME,
          VersionStage: AWSPREVIOUS,
          MoveToVersionId: initial,
          RemoveFromVersionId: previous,
        }),
      );

      const rotation = await scenario.runScheduledRotation();

      expect(initial).toBeDefined();
      expect(rotation.status).toBe('failed');
      expect(failureMessages(scenario)).toContain(IN_USE_REFUSAL);
      expect(scenario.logs.text).not.toContain(ABANDONED_LOG);
      expect(scenario.sim.accessKey(replaced ?? '')?.status).toBe('Active');
    });
  });
});

describe('A value put into AWSPENDING by hand, naming a key of the user in use', () => {
  it('makes the rotation that takes it up give up without deleting that key', async () => {
    // Someone who may put values into the secret names alice's other key (used by an
    // application, made long before) in an AWSPENDING version, with a secret that is not the
    // key's; the scheduled rotation resumes that version, its testSecret is refused to the
    // deadline and it gives up: the key was not made for the version, so it stays.
    await Scenario.run({}, async (scenario) => {
      await scenario.rotateNow();
      const created = await scenario.iam.send(new CreateAccessKeyCommand({ UserName: USER_NAME }));
      const inUse = created.AccessKey?.AccessKeyId ?? '';
      await scenario.sim.clock.sleep(3_600_000);
      await scenario.useKey(inUse);
      await scenario.sm.send(
        new PutSecretValueCommand({
          SecretId: SECRET_NAME,
          SecretString: JSON.stringify({
            UserName: USER_NAME,
            AccessKeyId: inUse,
            SecretAccessKey: 'not-the-secret-of-that-key-0000000000000',
          }),
          VersionStages: [AWSPENDING],
        }),
      );

      const rotation = await scenario.runScheduledRotation();

      expect(rotation.status).toBe('failed');
      expect(failureMessages(scenario)).toMatch(
        new RegExp(`Kept access key ${inUse} \\(created [^)]*: not made by this rotation`),
      );
      expect(scenario.sim.accessKey(inUse)?.status).toBe('Active');
      expect(scenario.hasIncompleteRotation()).toBe(false);
    });
  });
});
