import { UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { DescribeSecretCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import {
  VirtualClock,
  type RequestBoundary,
  type RotationInvocationEvent,
} from '../../../local/simulation/index.js';
import { SECRET, USER, createFixture, miniRotationFunction } from './fixtures.js';

describe('Class: VirtualClock', () => {
  it('advances only when a sleep is waited on: a sleep nobody awaits leaves the clock alone', async () => {
    const clock = new VirtualClock(0);

    void clock.sleep(1_000);
    await new Promise((resolve) => setImmediate(resolve));
    const afterDropped = clock.now();
    await clock.sleep(500);

    expect(afterDropped).toBe(0);
    expect(clock.now()).toBe(500);
  });

  it('advances once per sleep, however often it is waited on (then, race, await)', async () => {
    const clock = new VirtualClock(0);
    const sleep = clock.sleep(200);

    await Promise.race([sleep]);
    await sleep;

    expect(clock.now()).toBe(200);
  });
});

describe('Class: Simulation', () => {
  describe('Method: onRequestBoundary', () => {
    it('sees every request before and after it is handled, with the invocation that sends it', async () => {
      const { sim, sm } = await createFixture();
      const arn = sim.registerRotationFunction(miniRotationFunction(sim));
      const seen: RequestBoundary[] = [];
      const callsBefore = sim.callCount;
      sim.onRequestBoundary = (boundary) => {
        seen.push(boundary);
        return undefined;
      };

      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));
      await sim.settle();

      const outside = seen.filter((boundary) => boundary.invocationId === undefined);
      expect(outside.map((b) => `${b.phase} ${b.service}.${b.operation}`)).toEqual([
        'before secretsmanager.RotateSecret',
        'after secretsmanager.RotateSecret',
      ]);
      const firstInvocation = sim.invocations[0]?.id;
      expect(
        seen
          .filter((boundary) => boundary.invocationId === firstInvocation)
          .map((b) => `${b.phase} ${b.operation}`)
          .slice(0, 2),
      ).toEqual(['before DescribeSecret', 'after DescribeSecret']);
      expect(seen.filter((b) => b.phase === 'before')).toHaveLength(sim.callCount - callsBefore);
      expect(seen.filter((b) => b.phase === 'after')).toHaveLength(sim.callCount - callsBefore);
    });

    it('holds a request until the promise it returns settles: a change made meanwhile lands first', async () => {
      const { sim, iam, sm, firstKeyId } = await createFixture();
      const statusSeen: string[] = [];
      let held = false;
      sim.onRequestBoundary = (boundary) => {
        if (boundary.operation !== 'DescribeSecret' || boundary.phase !== 'before' || held) {
          return undefined;
        }
        held = true;
        // Another actor deactivates the key while the DescribeSecret waits.
        return iam
          .send(
            new UpdateAccessKeyCommand({
              UserName: USER,
              AccessKeyId: firstKeyId,
              Status: 'Inactive',
            }),
          )
          .then(() => {
            statusSeen.push(sim.accessKey(firstKeyId)?.status ?? 'deleted');
          });
      };
      const callsBefore = sim.callCount;

      await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));

      expect(statusSeen).toEqual(['Inactive']);
      expect(sim.calls.slice(callsBefore).map((call) => call.operation)).toEqual([
        'UpdateAccessKey',
        'DescribeSecret',
      ]);
    });
  });

  describe('Method: setStepInvocationGate', () => {
    it('holds a step until the gate opens; its invocation (and its deadline) starts then', async () => {
      const { sim, sm } = await createFixture();
      const arn = sim.registerRotationFunction(miniRotationFunction(sim));
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      sim.setStepInvocationGate((step) => (step === 'setSecret' ? gate : undefined));

      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));
      for (let turn = 0; turn < 50; turn += 1) await new Promise((r) => setImmediate(r));
      const stepsWhileHeld = sim.invocations.map((invocation) => invocation.step);
      await sim.clock.sleep(40_000);
      open();
      await sim.settle();

      expect(stepsWhileHeld).toEqual(['createSecret']);
      const setSecret = sim.invocations.find((invocation) => invocation.step === 'setSecret');
      expect(setSecret?.outcome).toBe('succeeded');
      expect(setSecret?.startedAt).toBeGreaterThanOrEqual(
        (sim.invocations[0]?.endedAt ?? 0) + 40_000,
      );
      expect(sim.rotations[0]?.status).toBe('succeeded');
    });
  });

  describe('Method: redeliverStep', () => {
    it('delivers a step once more with the same token, recorded with the rotation', async () => {
      const { sim, sm } = await createFixture();
      const events: RotationInvocationEvent[] = [];
      const arn = sim.registerRotationFunction((event, context) => {
        events.push(event);
        return miniRotationFunction(sim)(event, context);
      });
      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));
      await sim.settle();
      const rotation = sim.rotations[0];
      if (rotation === undefined) throw new Error('no rotation');

      const again = await sim.redeliverStep(rotation, 'finishSecret');

      expect(again).toMatchObject({ step: 'finishSecret', outcome: 'succeeded' });
      expect(rotation.invocations.filter((i) => i.step === 'finishSecret')).toHaveLength(2);
      expect(events.at(-1)?.ClientRequestToken).toBe(events.at(-2)?.ClientRequestToken);
    });
  });
});
