import { CreateAccessKeyCommand, IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient, UntagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CURRENT_KEY_TAG_KEY, TESTED_STAGE } from '../../lambda/rotation/binding.js';
import {
  firstRotationPhysicalId,
  ROLLBACK_WAIT_BUDGET_MS,
} from '../../lambda/first-rotation/first-rotation-wait.js';
import { secretNameOf } from '../../local/simulated-deployment.js';
import { AWSCURRENT, AWSPENDING, Simulation } from '../../local/simulation/index.js';
import {
  awaitCreate,
  deployWithWait,
  rollBackCreation,
  SimulatedRotationLog,
} from '../support/first-rotation-harness.js';
import type { FirstRotationResult } from '../../lambda/first-rotation/first-rotation-wait.js';

const USER = 'alice';

describe('First-rotation wait: onEvent and isComplete against the simulation', () => {
  let sim: Simulation;
  let rotationLog: SimulatedRotationLog;

  const start = (options: ConstructorParameters<typeof Simulation>[0] = {}): void => {
    sim = new Simulation(options);
    rotationLog = new SimulatedRotationLog(sim).start();
  };

  beforeEach(() => {
    start({ rotation: { retry: { maxAttempts: 3, delayMs: 60_000 } } });
  });

  afterEach(async () => {
    await sim.settle();
    rotationLog.stop();
    sim.dispose();
  });

  it('completes once AWSCURRENT holds the key testSecret proved, without a second RotateSecret', async () => {
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });

    const result = await awaitCreate(sim, deployment);

    expect(result.outcome === 'failed' ? result.error.message : result.outcome).toBe('complete');
    const current = sim.versionWithStage(secretNameOf(USER), AWSCURRENT);
    expect(current?.stages).toContain(TESTED_STAGE);
    const keyId = sim
      .secret(secretNameOf(USER))
      ?.tags.find((tag) => tag.Key === CURRENT_KEY_TAG_KEY)?.Value;
    expect(keyId).toBe(
      `${current?.versionId}:${result.outcome === 'complete' ? result.completion.Data?.AccessKeyId : ''}`,
    );
    expect(sim.accessKeys(USER).map((key) => key.status)).toEqual(['Active']);
    // The schedule's creation started the rotation: onEvent found it in flight.
    expect(result.created?.Data?.Outcome).toBe('in-flight');
    expect(sim.callsWhere({ operation: 'RotateSecret' })).toHaveLength(1);
    expect(result.created?.PhysicalResourceId).toBe(firstRotationPhysicalId(USER, true));
  });

  it('starts the rotation when none is in flight and the secret holds no proven key', async () => {
    const deployment = await deployWithWait(sim, rotationLog, {
      userName: USER,
      rotateImmediately: false,
    });
    await sim.settle();
    expect(sim.versionWithStage(secretNameOf(USER), AWSPENDING)).toBeUndefined();

    const result = await awaitCreate(sim, deployment);

    expect(result).toMatchObject({
      outcome: 'complete',
      created: { Data: { Outcome: 'started' } },
    });
    expect(sim.accessKeys(USER)).toHaveLength(1);
  });

  it('starts nothing when AWSCURRENT already holds a proven key, and its Delete undoes nothing', async () => {
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    await sim.settle();
    const rotations = sim.rotations.length;
    const keys = sim.accessKeys(USER);

    const result = await awaitCreate(sim, deployment);
    await rollBackCreation(sim, deployment, result.created);

    expect(result).toMatchObject({
      outcome: 'complete',
      created: {
        PhysicalResourceId: firstRotationPhysicalId(USER, false),
        Data: { Outcome: 'already-rotated' },
      },
    });
    expect(sim.rotations).toHaveLength(rotations);
    expect(sim.accessKeys(USER)).toEqual(keys);
  });

  it("fails the deployment with the function's own error, naming the user, when the first rotation is refused", async () => {
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER, usedKeys: 2 });

    const result = await awaitCreate(sim, deployment);

    expect(result.outcome).toBe('failed');
    const message = result.outcome === 'failed' ? result.error.message : '';
    expect(message).toContain(
      `First rotation of secret ${secretNameOf(USER)} (IAM user ${USER}) failed: AccessKeyInUseError: `,
    );
    expect(message).toContain('Fix the cause, then deploy again');
    // Refused at once, not after the wait's deadline.
    expect(deployment.waiterLog.filter((line) => line.action === 'waiting').length).toBeLessThan(4);
    expect(
      sim
        .accessKeys(USER)
        .map((key) => key.accessKeyId)
        .sort(),
    ).toEqual([...deployment.keysBefore].sort());
  });

  it('waits through a failed attempt that Secrets Manager retries, and completes', async () => {
    // The new key is rejected for longer than the function's timeout: the first attempt's
    // testSecret fails, the retry a minute later finds it valid.
    sim.setPropagationDelay(45_000);
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    // The Provider framework's waiter polls at any moment: here once the retry begins.
    const polls: unknown[] = [];
    sim.setStepInvocationGate((step, rotation) =>
      rotation.attempts > 1 && step === 'createSecret'
        ? deployment.handlers
            .isComplete({
              ...deployment.event,
              RequestType: 'Create',
              Data: {
                ClientRequestToken: rotation.clientRequestToken,
                StartedAt: String(sim.clock.now() - 60_000),
              },
            })
            .then(
              (completion) => void polls.push(completion),
              (error: unknown) => void polls.push(error),
            )
        : undefined,
    );

    const result = await awaitCreate(sim, deployment);

    expect(result.outcome).toBe('complete');
    const rotation = sim.rotations.at(-1);
    expect(rotation?.attempts).toBe(2);
    expect(rotation?.status).toBe('succeeded');
    expect(polls).toEqual([{ IsComplete: false }]);
    expect(deployment.waiterLog).toContainEqual(
      expect.objectContaining({ action: 'waiting', errors: 1 }),
    );
  });

  it('follows a retry that Secrets Manager starts with a new version, and completes', async () => {
    sim.dispose();
    rotationLog.stop();
    start({ rotation: { retry: { maxAttempts: 3, delayMs: 60_000, reuseToken: false } } });
    // The first attempt is denied its CreateAccessKey (as while IAM propagates the role's policy).
    sim.injectFault({ kind: 'access-denied', match: { operation: 'CreateAccessKey' } });
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    const polls: unknown[] = [];
    // What onEvent answered, once it has (the gate runs from the first step on).
    const first: { created?: FirstRotationResult } = {};
    sim.setStepInvocationGate((step, rotation) =>
      rotation.attempts > 1 && step === 'createSecret' && first.created !== undefined
        ? deployment.handlers
            .isComplete({
              ...deployment.event,
              RequestType: 'Create',
              PhysicalResourceId: first.created.PhysicalResourceId,
              Data: first.created.Data,
            })
            .then(
              (completion) => void polls.push(completion),
              (error: unknown) => void polls.push(error),
            )
        : undefined,
    );
    const created = await deployment.handlers.onEvent({
      ...deployment.event,
      RequestType: 'Create',
    });
    first.created = created;

    const result = await awaitCreate(sim, deployment);

    const rotation = sim.rotations.at(-1);
    expect(rotation?.tokens).toHaveLength(2);
    expect(created.Data?.ClientRequestToken).toBe(rotation?.tokens[0]);
    // Between the attempts the first version had lost AWSPENDING to the second: still waiting.
    expect(polls).toEqual([{ IsComplete: false }]);
    expect(result.outcome === 'failed' ? result.error.message : result.outcome).toBe('complete');
  });

  it('keeps waiting while AWSCURRENT is the proven version but its current-key tag is not written yet', async () => {
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    const created = await deployment.handlers.onEvent({
      ...deployment.event,
      RequestType: 'Create',
    });
    await sim.settle();
    // finishSecret moves AWSCURRENT, then writes the tag: a poll may come in between.
    await new SecretsManagerClient(sim.adminClientConfig()).send(
      new UntagResourceCommand({ SecretId: deployment.secretArn, TagKeys: [CURRENT_KEY_TAG_KEY] }),
    );

    const completion = await deployment.handlers.isComplete({
      ...deployment.event,
      RequestType: 'Create',
      PhysicalResourceId: created.PhysicalResourceId,
      Data: created.Data,
    });

    expect(completion).toEqual({ IsComplete: false });
  });

  it('fails at its deadline with the last error when every attempt fails, and the rollback leaves no key', async () => {
    sim.setPropagationDelay(3_600_000);
    const deployment = await deployWithWait(sim, rotationLog, {
      userName: USER,
      waitTimeoutMs: 10 * 60_000,
    });

    const result = await awaitCreate(sim, deployment);

    expect(result.outcome).toBe('failed');
    const message = result.outcome === 'failed' ? result.error.message : '';
    expect(message).toMatch(
      /did not complete within 10 minutes \(version [\w-]+ carries \[AWSPENDING\]\); the function's last error: \w+Error: /,
    );
    expect(sim.accessKeys(USER)).toHaveLength(1);

    await rollBackCreation(sim, deployment, result.created);

    expect(sim.accessKeys(USER)).toEqual([]);
    expect(
      sim.user(USER)?.tags.find((tag) => tag.Key === 'iam-key-rotation:secret'),
    ).toBeUndefined();
    expect(sim.secret(secretNameOf(USER))).toBeUndefined();
  });

  it('on the rollback of a deployment that created the secret, deletes even the AWSCURRENT key its first rotation made', async () => {
    // Another user's rotation failed: this one completed, but the rollback deletes its secret.
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    const result = await awaitCreate(sim, deployment);
    expect(result.outcome).toBe('complete');

    await rollBackCreation(sim, deployment, result.created);

    expect(sim.accessKeys(USER)).toEqual([]);
    expect(deployment.waiterLog.at(-1)).toMatchObject({
      action: 'rolled-back',
      secretDeleted: true,
    });
  });

  it('on the rollback of a deployment that did not create the secret, keeps the key AWSCURRENT holds', async () => {
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    const result = await awaitCreate(sim, deployment);
    // The secret (made 2 s after the stub's start) predates the stack operation that rolls back,
    // which began 1 s later, before the rotation (the switch was turned on by that update): the
    // secret stays, and so does the key its AWSCURRENT holds.
    deployment.stackStates.creationTime = new Date(
      deployment.stackStates.creationTime.getTime() + 3_000,
    );
    deployment.stackStates.stackStatus = 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS';
    deployment.stackStates.resourceStatus = 'DELETE_IN_PROGRESS';
    const keys = sim.accessKeys(USER);
    expect(keys).toHaveLength(1);

    await deployment.handlers.onEvent({
      ...deployment.event,
      RequestType: 'Delete',
      PhysicalResourceId: result.created?.PhysicalResourceId,
    });

    expect(sim.accessKeys(USER)).toEqual(keys);
    expect(deployment.waiterLog).toContainEqual(
      expect.objectContaining({ action: 'kept-key', accessKeyId: keys[0]?.accessKeyId }),
    );
  });

  it('on the rollback of a later deployment, keeps a key made by hand since the secret but before that deployment', async () => {
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    const result = await awaitCreate(sim, deployment);
    const [rotated] = sim.accessKeys(USER);
    // A key an operator made after the secret existed, before the deployment that now rolls back.
    await sim.clock.sleep(60_000);
    const iam = new IAMClient(sim.adminClientConfig());
    const handMade = (await iam.send(new CreateAccessKeyCommand({ UserName: USER }))).AccessKey
      ?.AccessKeyId;
    await sim.clock.sleep(60_000);
    deployment.stackStates.creationTime = new Date(sim.clock.now());
    deployment.stackStates.stackStatus = 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS';
    deployment.stackStates.resourceStatus = 'DELETE_IN_PROGRESS';

    await deployment.handlers.onEvent({
      ...deployment.event,
      RequestType: 'Delete',
      PhysicalResourceId: result.created?.PhysicalResourceId,
    });

    expect(handMade).toBeDefined();
    expect(
      sim
        .accessKeys(USER)
        .map((key) => key.accessKeyId)
        .sort(),
    ).toEqual([rotated?.accessKeyId, handMade].sort());
  });

  it("waits out a long rotation function timeout on rollback only within the onEvent function's own timeout", async () => {
    sim.setPropagationDelay(3_600_000);
    const deployment = await deployWithWait(sim, rotationLog, {
      userName: USER,
      waitTimeoutMs: 5 * 60_000,
      rotationTimeoutMs: 15 * 60_000,
    });
    const result = await awaitCreate(sim, deployment);
    expect(result.outcome).toBe('failed');
    const before = sim.clock.now();

    await rollBackCreation(sim, deployment, result.created);

    expect(sim.clock.now() - before).toBeLessThanOrEqual(ROLLBACK_WAIT_BUDGET_MS);
    expect(sim.accessKeys(USER)).toEqual([]);
  });

  it('leaves everything as it is on a Delete that is not a rollback', async () => {
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    const result = await awaitCreate(sim, deployment);
    expect(result.outcome).toBe('complete');
    deployment.stackStates.stackStatus = 'DELETE_IN_PROGRESS';
    deployment.stackStates.resourceStatus = 'DELETE_IN_PROGRESS';
    const keys = sim.accessKeys(USER);

    await deployment.handlers.onEvent({
      ...deployment.event,
      RequestType: 'Delete',
      PhysicalResourceId: result.created?.PhysicalResourceId,
    });

    expect(sim.accessKeys(USER)).toEqual(keys);
    expect(deployment.waiterLog.at(-1)).toMatchObject({ action: 'left-unchanged' });
  });

  it('never rotates on Update', async () => {
    const deployment = await deployWithWait(sim, rotationLog, { userName: USER });
    const result = await awaitCreate(sim, deployment);
    const rotations = sim.rotations.length;

    const updated = await deployment.handlers.onEvent({
      ...deployment.event,
      RequestType: 'Update',
      PhysicalResourceId: result.created?.PhysicalResourceId,
    });
    const completion = await deployment.handlers.isComplete({
      ...deployment.event,
      RequestType: 'Update',
      PhysicalResourceId: updated.PhysicalResourceId,
      Data: updated.Data,
    });

    expect(updated.PhysicalResourceId).toBe(result.created?.PhysicalResourceId);
    expect(completion).toEqual({ IsComplete: true });
    await sim.settle();
    expect(sim.rotations).toHaveLength(rotations);
  });

  it('after a failed first deployment rolled back, the fixed one succeeds without manual clean-up', async () => {
    // Attempt 1: the user holds two keys in use; the rotation is refused, the deployment fails.
    const failed = await deployWithWait(sim, rotationLog, { userName: USER, usedKeys: 2 });
    const first = await awaitCreate(sim, failed);
    expect(first.outcome).toBe('failed');
    await rollBackCreation(sim, failed, first.created);
    expect(sim.secret(secretNameOf(USER))).toBeUndefined();

    // The fix: the operator deletes one of the keys in use. Attempt 2: the same configuration.
    sim.iam.updateAccessKey(USER, failed.keysBefore[0] ?? '', 'Inactive');
    sim.iam.deleteAccessKey(USER, failed.keysBefore[0] ?? '');
    const fixed = await deployWithWait(sim, rotationLog, { userName: USER });
    const second = await awaitCreate(sim, fixed);

    expect(second.outcome).toBe('complete');
    const keys = sim.accessKeys(USER).map((key) => key.accessKeyId);
    expect(keys).toHaveLength(2);
    expect(keys).toContain(failed.keysBefore[1]);
  });
});
