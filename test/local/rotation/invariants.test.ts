import { describe, expect, it } from 'vitest';
import { AWSCURRENT, AWSPREVIOUS } from '../../../local/simulation/index.js';
import {
  checkCurrentKeyWorks,
  checkInvariants,
  checkKeyLimit,
  checkNoOrphans,
  checkNoSecretInLogs,
} from '../../support/scenario/invariants.js';
import { Scenario, USER_NAME } from '../../support/scenario/scenario.js';

/** The invariant checks catch what they claim to: each is shown a state that breaks it. */
describe('Module: scenario invariants', () => {
  describe('Function: checkInvariants', () => {
    it('holds after a clean rotation', async () => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();

        expect(scenario.lastRotation?.status).toBe('succeeded');
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });

  describe('Function: checkCurrentKeyWorks (1)', () => {
    it('fails when the AWSCURRENT key is Inactive after a completed rotation', async () => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();
        const current = scenario.storedKeyId(AWSCURRENT) ?? '';

        scenario.sim.setAccessKeyStatus(current, 'Inactive');

        expect(checkCurrentKeyWorks(scenario)).toEqual([
          `1: AWSCURRENT key ${current} is Inactive`,
        ]);
      });
    });

    it('fails when the stored key of a secret that started with one does not authenticate', async () => {
      await Scenario.run({ start: 'stored-key' }, (scenario) => {
        const current = scenario.storedKeyId(AWSCURRENT) ?? '';

        scenario.sim.setAccessKeyStatus(current, 'Expired');

        expect(checkCurrentKeyWorks(scenario)).toEqual([`1: AWSCURRENT key ${current} is Expired`]);
      });
    });

    it('does not apply before a rotation repaired a change made by hand', async () => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();

        await scenario.applyOutOfBand('delete-current-key');

        expect(checkCurrentKeyWorks(scenario)).toEqual([]);
      });
    });
  });

  describe('Function: checkKeyLimit (2)', () => {
    it('fails when a rotation failed at the two-key limit', async () => {
      await Scenario.run({ rotation: { retry: { maxAttempts: 1 } } }, async (scenario) => {
        scenario.sim.injectFault({
          kind: 'throttling',
          errorCode: 'LimitExceeded',
          match: { operation: 'CreateAccessKey', insideInvocation: true },
          // Every attempt: the SDK's retries of each of createSecret's three CreateAccessKey calls.
          times: 100,
        });

        await scenario.rotateNow();

        expect(checkKeyLimit(scenario)).toEqual([
          expect.stringMatching(/^2: rot-1 createSecret \(inv-1\) failed at the key limit/),
        ]);
      });
    });
  });

  describe('Function: checkNoOrphans (3)', () => {
    it('fails when a key is in neither AWSCURRENT nor AWSPREVIOUS after a completed rotation', async () => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();

        const stray = scenario.sim.iam.createAccessKey(USER_NAME, undefined);

        expect(checkNoOrphans(scenario)).toEqual([
          expect.stringContaining(`Active key ${stray.accessKeyId} is in neither`),
        ]);
      });
    });

    it('exempts a key the user had before the secret only until the second rotation', async () => {
      await Scenario.run({ start: 'pre-existing-key' }, async (scenario) => {
        const [preExisting] = [...scenario.preExistingKeyIds];
        await scenario.rotateNow();
        expect(checkNoOrphans(scenario)).toEqual([]);
        expect(scenario.sim.accessKey(preExisting ?? '')?.status).toBe('Active');

        await scenario.runScheduledRotation();
        scenario.sim.iam.deleteAccessKey(USER_NAME, scenario.storedKeyId(AWSPREVIOUS) ?? '');
        const revived = scenario.sim.iam.createAccessKey(USER_NAME, undefined);
        scenario.preExistingKeyIds.add(revived.accessKeyId);

        expect(checkNoOrphans(scenario)).toEqual([
          expect.stringContaining(`Active key ${revived.accessKeyId} is in neither`),
        ]);
      });
    });
  });

  // Self-tests of 4 and of 6-9, with the real instrumentation: see invariants-calls.test.ts

  describe('Function: checkNoSecretInLogs (5)', () => {
    it('fails when a log line contains a secret access key', async () => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();
        const current = scenario.sim.accessKey(scenario.storedKeyId(AWSCURRENT) ?? '');

        process.stdout.write(
          `${JSON.stringify({ message: 'leak', key: current?.secretAccessKey })}\n`,
        );

        expect(checkNoSecretInLogs(scenario)).toContain(
          '5: a secret value appears in the log line "leak"',
        );
      });
    });

    it('fails when a log line contains a RotationToken', async () => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();
        const [token] = [...scenario.rotationTokens];
        expect(scenario.rotationTokens.size).toBe(4);

        process.stderr.write(`${JSON.stringify({ message: 'token', token })}\n`);

        expect(checkNoSecretInLogs(scenario)).toContain(
          '5: a secret value appears in the log line "token"',
        );
      });
    });

    it('captures the handler log lines it checks', async () => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();

        const messages = scenario.logs.entries.map((entry) => entry.message);

        expect(messages).toContain('createSecret: stored the new access key in AWSPENDING');
        expect(messages).toContain('finishSecret: done');
      });
    });
  });
});
