import {
  ROTATION_STEPS,
  type RotationRecord,
  type RotationStep,
} from '../../../local/simulation/index.js';
import { applyOperatorAction } from '../scenario/operator-actions.js';
import { runOperatorCommand } from '../scenario/operator-cli.js';
import { Scenario } from '../scenario/scenario.js';
import {
  BoundaryScheduler,
  currentActor,
  runAsActor,
  runAsNobody,
  type ActorId,
  type BoundarySpec,
} from './boundary-scheduler.js';
import { judgeInterleaving, type CommandFacts } from './judge.js';

/**
 * What the rotation function does while an operator acts:
 * - `step`: one delivery of a step of a rotation;
 * - `duplicate`: a second delivery of a step. With the command inside it: the first delivery is
 *   held, the second runs to its end, then the command; with it inside the command: the first
 *   delivery ended before the command began, the second (late) one runs at the command's
 *   boundary;
 * - `stalled`: a delivery of a step whose request at the boundary took effect but lost its answer
 *   (a timeout): it is held in the SDK's retry backoff while a second delivery runs to its end
 *   and then the command, and retries after (the command inside it only);
 * - `retirement`: the grace period's schedule firing (with a grace period only).
 */
export type Activity =
  | { readonly kind: 'step' | 'duplicate' | 'stalled'; readonly step: RotationStep }
  | { readonly kind: 'retirement' };

/**
 * What the operator does: the command's own code (`rollback`, `cancel`, `rotate --wait`, all
 * with `--yes`), or by hand as the AWS CLI would: PutSecretValue of the AWSCURRENT value again,
 * UpdateAccessKey of the AWSPREVIOUS key to Inactive.
 */
export type ExplorerCommand =
  'rollback' | 'cancel' | 'rotate' | 'put-value-by-hand' | 'deactivate-previous-key-by-hand';

export const EXPLORER_COMMANDS: readonly ExplorerCommand[] = [
  'rollback',
  'cancel',
  'rotate',
  'put-value-by-hand',
  'deactivate-previous-key-by-hand',
];

/**
 * `command-in-activity`: the activity is held at its boundary while the command runs to its end.
 * `activity-in-command`: the command is held at its boundary while the activity runs to its end.
 */
export type Direction = 'command-in-activity' | 'activity-in-command';

/** One explored interleaving: all it takes to replay it. */
export interface Interleaving {
  readonly activity: Activity;
  readonly command: ExplorerCommand;
  readonly direction: Direction;
  /** The held actor's boundary (the activity's or the command's, by direction). */
  readonly boundary: BoundarySpec;
  readonly grace: boolean;
  readonly seed: number;
}

export interface InterleavingResult {
  readonly interleaving: Interleaving;
  /** The held actor reached its boundary (else the run is the two one after the other). */
  readonly reached: boolean;
  /** The held actor's requests, in order (`Service.Operation`). */
  readonly heldRequests: readonly string[];
  readonly commandExitCode: number;
  readonly commandMessage?: string;
  readonly violations: readonly string[];
}

/** The grace period of the runs with one. */
export const EXPLORER_GRACE_SECONDS = 3_600;
const GRACE_MS = EXPLORER_GRACE_SECONDS * 1_000;
/** Long enough for testSecret to wait for the new key once or twice. */
export const EXPLORER_PROPAGATION_MS = 1_000;
const OPERATOR: ActorId = 'operator';
/** The explorer's actor name of an invocation of the function, by its ClientRequestToken. */
const TOKEN_ACTOR = 'token:';

export const activityName = (activity: Activity): string =>
  activity.kind === 'retirement' ? 'retirement' : `${activity.kind}:${activity.step}`;

export const boundaryName = (boundary: BoundarySpec): string =>
  `${boundary.phase}:${String(boundary.request)}`;

/** A short deterministic name, e.g. `stalled:finishSecret x rollback, command-in-activity at before:9, grace, seed 1`. */
export const interleavingName = (i: Interleaving): string =>
  `${activityName(i.activity)} x ${i.command}, ${i.direction} at ${boundaryName(i.boundary)}, ${
    i.grace ? 'grace' : 'no grace'
  }, seed ${String(i.seed)}`;

/** A boundary no actor reaches: the solo run that counts an actor's requests. */
const NEVER: BoundarySpec = { phase: 'before', request: Number.MAX_SAFE_INTEGER };

class Deferred<T = void> {
  public resolve!: (value: T) => void;
  public readonly promise = new Promise<T>((resolve) => {
    this.resolve = resolve;
  });
}

interface CommandOutcome extends CommandFacts {
  readonly message?: string;
}

/** Runs the operator's command to its end, as the actor `operator`. */
const runCommand = (scenario: Scenario, command: ExplorerCommand): Promise<CommandOutcome> =>
  runAsActor(OPERATOR, async () => {
    const startCall = scenario.sim.callCount;
    switch (command) {
      case 'rollback':
      case 'cancel':
      case 'rotate': {
        let run;
        try {
          run = await runOperatorCommand(scenario, command);
        } catch (error) {
          // Not a CliError: the command crashed (a person would see a raw AWS error).
          return {
            name: command,
            exitCode: 1,
            startCall,
            endCall: scenario.sim.callCount,
            removesKeysByHand: false,
            crashedWith: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          };
        }
        return {
          name: command,
          exitCode: run.exitCode,
          startCall: run.startCall,
          endCall: run.endCall,
          removesKeysByHand: false,
          ...(run.error instanceof Error ? { message: run.error.message } : {}),
        };
      }
      case 'put-value-by-hand':
      case 'deactivate-previous-key-by-hand':
        await applyOperatorAction(
          scenario,
          command === 'put-value-by-hand' ? 'put-value-by-hand' : 'deactivate-previous-key',
        );
        return {
          name: command,
          exitCode: 0,
          startCall,
          endCall: scenario.sim.callCount,
          removesKeysByHand: command === 'deactivate-previous-key-by-hand',
        };
    }
  });

/** Records, by ClientRequestToken, the keys each invocation of a rotation creates. */
const recordKeysByToken = (scenario: Scenario, keysByToken: Map<string, string[]>): void => {
  const iam = scenario.sim.iam;
  const createAccessKey = iam.createAccessKey.bind(iam);
  iam.createAccessKey = (...args) => {
    const key = createAccessKey(...args);
    const actor = currentActor();
    if (actor?.startsWith(TOKEN_ACTOR) === true) {
      const token = actor.slice(TOKEN_ACTOR.length);
      keysByToken.set(token, [...(keysByToken.get(token) ?? []), key.accessKeyId]);
    }
    return key;
  };
};

interface World {
  readonly base: Scenario;
  readonly keysByToken: ReadonlyMap<string, string[]>;
}

/** The worlds built so far, by grace period and seed: each interleaving starts from a fork. */
const worlds = new Map<string, Promise<World>>();

/** The world every interleaving starts from, built once: alice's stored key rotated once. */
const buildWorld = async (grace: boolean, seed: number): Promise<World> => {
  const keysByToken = new Map<string, string[]>();
  const { base } = await Scenario.prepared(
    {
      start: 'stored-key',
      seed,
      propagationDelayMs: EXPLORER_PROPAGATION_MS,
      gracePeriodSeconds: grace ? EXPLORER_GRACE_SECONDS : 0,
      // Each invocation runs as the actor of its token, so the keys it creates are known.
      rotationFunction: (real) => (event, context) =>
        runAsActor(`${TOKEN_ACTOR}${event.ClientRequestToken}`, () => real(event, context)),
    },
    async (scenario) => {
      recordKeysByToken(scenario, keysByToken);
      const first = await scenario.rotateNow();
      if (!first.accepted || scenario.lastRotation?.status !== 'succeeded') {
        throw new Error(`The explorer's first rotation did not succeed (seed ${String(seed)})`);
      }
    },
  );
  return { base, keysByToken };
};

/**
 * A world for one interleaving: a fork of the one built for its grace period and seed (its
 * rotation function, which only names the actor of each invocation, made anew), with the keys
 * the first rotation created by token.
 */
const createWorld = async (
  grace: boolean,
  seed: number,
  keysByToken: Map<string, string[]>,
): Promise<Scenario> => {
  const key = `${String(grace)} ${String(seed)}`;
  let world = worlds.get(key);
  if (world === undefined) {
    world = buildWorld(grace, seed);
    worlds.set(key, world);
  }
  const { base, keysByToken: firstKeys } = await world;
  const scenario = await Scenario.fork(base, { statelessRotationFunction: true });
  for (const [token, keys] of firstKeys) keysByToken.set(token, [...keys]);
  recordKeysByToken(scenario, keysByToken);
  return scenario;
};

/**
 * Runs one interleaving on a fresh world and judges it. `boundary` of {@link NEVER} gives the
 * solo run of the held actor (the other runs after it).
 */
export const runInterleaving = async (interleaving: Interleaving): Promise<InterleavingResult> => {
  const { activity, command, direction, boundary, grace, seed } = interleaving;
  if (activity.kind === 'retirement' && !grace) {
    throw new Error('A retirement exists only with a grace period');
  }
  if (activity.kind === 'stalled' && direction !== 'command-in-activity') {
    throw new Error('A stalled delivery is explored with the command inside it only');
  }
  const keysByToken = new Map<string, string[]>();
  const scenario = await createWorld(grace, seed, keysByToken);
  const scheduler = new BoundaryScheduler(scenario.sim);
  let outcome: CommandOutcome | undefined;
  let heldActor: ActorId | undefined;
  /** What went wrong in a part run in the background (rethrown once the run has settled). */
  let failure: unknown;
  try {
    // The rotation the step activities belong to: the second of alice's secret.
    const activityRotation = (): RotationRecord | undefined => scenario.rotations[1];
    const firstDelivery = firstDeliveryOf(scenario, activity);
    const runActivityDriver = async (): Promise<void> => {
      if (activity.kind === 'retirement') {
        await scenario.sim.clock.sleep(GRACE_MS + 1_000);
        await scenario.runDueSchedules();
      } else {
        await scenario.runScheduledRotation();
      }
    };
    const redeliver = async (): Promise<void> => {
      const rotation = activityRotation();
      if (rotation === undefined || activity.kind === 'retirement') return;
      await scenario.sim.redeliverStep(rotation, activity.step);
    };
    const startCommand = (): Promise<CommandOutcome> =>
      scenario.sim.outsideInvocation(() =>
        runAsNobody(async () => {
          outcome = await runCommand(scenario, command);
          return outcome;
        }),
      );

    if (direction === 'command-in-activity') {
      const partnerThenCommand = async (actor: ActorId): Promise<void> => {
        heldActor = actor;
        if (activity.kind === 'duplicate' || activity.kind === 'stalled') await redeliver();
        await startCommand();
      };
      if (activity.kind === 'stalled') {
        // The request at the boundary takes effect and loses its answer; the delivery is held
        // before its next request (the SDK's retry), while the others run.
        scheduler.holdAt(firstDelivery, { phase: 'before', request: boundary.request }, (actor) => {
          heldActor = actor;
          scenario.sim.injectFault({
            kind: 'timeout-after-effect',
            match: { invocationId: actor },
          });
          return Promise.resolve();
        });
        scheduler.holdAt(
          (actor) => actor === heldActor,
          { phase: 'before', request: boundary.request + 1 },
          partnerThenCommand,
        );
      } else {
        scheduler.holdAt(firstDelivery, boundary, partnerThenCommand);
      }
      await runActivityDriver();
      await scenario.settle();
      // A held actor that never came back to its boundary: the command runs after it.
      if (outcome === undefined) await startCommand();
    } else {
      heldActor = OPERATOR;
      const activityRan = new Deferred();
      /** Runs the command; at its boundary, `activityToEnd` runs before it goes on. */
      const commandAround = async (activityToEnd: () => Promise<void>): Promise<void> => {
        scheduler.holdAt(
          (actor) => actor === OPERATOR,
          boundary,
          async () => {
            await activityToEnd();
            activityRan.resolve();
          },
        );
        await startCommand();
        if (!scheduler.allHoldsFired) {
          await activityToEnd();
          activityRan.resolve();
        }
      };
      if (activity.kind === 'retirement') {
        await scenario.sim.clock.sleep(GRACE_MS + 1_000);
        await commandAround(async () => {
          await scenario.runDueSchedules();
        });
      } else if (activity.kind === 'duplicate' && activity.step === 'finishSecret') {
        await scenario.runScheduledRotation();
        await commandAround(redeliver);
      } else {
        const held = activity.kind === 'duplicate' ? nextStep(activity.step) : activity.step;
        const commandDone = new Deferred();
        const gate = { commandStarted: false };
        let target: Deferred | undefined;
        scenario.sim.setStepInvocationGate((step, rotation) => {
          if (rotation !== activityRotation()) return undefined;
          if (!gate.commandStarted && step === held && rotation.attempts === 1) {
            gate.commandStarted = true;
            const release = new Deferred();
            void scenario.sim.outsideInvocation(() =>
              runAsNobody(() =>
                commandAround(async () => {
                  if (activity.kind === 'duplicate') {
                    await redeliver();
                    return;
                  }
                  // Lets the step go; it has ended when the rotation asks for its next one.
                  target = new Deferred();
                  release.resolve();
                  await target.promise;
                })
                  .catch((error: unknown) => {
                    failure ??= error;
                  })
                  .finally(() => {
                    release.resolve();
                    commandDone.resolve();
                  }),
              ),
            );
            // A duplicate's command holds the rotation until it ends.
            return activity.kind === 'duplicate' ? commandDone.promise : release.promise;
          }
          if (gate.commandStarted && target !== undefined) {
            target.resolve();
            return commandDone.promise;
          }
          return undefined;
        });
        const rotation = scenario.runScheduledRotation();
        // The step may be the rotation's last (or fail it): then its end is the rotation's.
        await rotation.then(() => target?.resolve());
        if (!gate.commandStarted) {
          // The rotation never came to the step: the command runs after it.
          gate.commandStarted = true;
          await commandAround(() => Promise.resolve());
          commandDone.resolve();
        }
        await commandDone.promise;
        await activityRan.promise;
        scenario.sim.setStepInvocationGate(undefined);
      }
    }
    await scenario.settle();
    if (grace) {
      // The retirements the runs scheduled fire too.
      await scenario.sim.clock.sleep(GRACE_MS + 2_000);
      await scenario.runDueSchedules();
    }
    scheduler.detach();
    if (failure !== undefined) {
      throw failure instanceof Error
        ? failure
        : new Error('A background part failed', { cause: failure });
    }
    if (outcome === undefined) {
      throw new Error(`${interleavingName(interleaving)}: the command never ran`);
    }
    const violations = judgeInterleaving(scenario, outcome, keysByToken);
    heldActor ??= [...scheduler.trace.keys()].find(firstDeliveryOf(scenario, activity));
    return {
      interleaving,
      reached: scheduler.allHoldsFired,
      heldRequests: heldActor === undefined ? [] : scheduler.requestsOf(heldActor),
      commandExitCode: outcome.exitCode,
      ...(outcome.message === undefined ? {} : { commandMessage: outcome.message }),
      violations,
    };
  } finally {
    scheduler.detach();
    scenario.dispose();
  }
};

/** Whether an actor is the activity's (first) delivery: the one whose boundaries are explored. */
const firstDeliveryOf =
  (scenario: Scenario, activity: Activity) =>
  (actor: ActorId): boolean => {
    if (activity.kind === 'retirement') {
      return scenario.sim.scheduledInvocations[0]?.id === actor;
    }
    // The step activities belong to the second rotation of alice's secret.
    const delivery = scenario.rotations[1]?.invocations.find(
      (invocation) => invocation.step === activity.step && invocation.attempt === 1,
    );
    return delivery?.id === actor;
  };

const nextStep = (step: RotationStep): RotationStep => {
  const next = ROTATION_STEPS[ROTATION_STEPS.indexOf(step) + 1];
  if (next === undefined) throw new Error(`${step} is the last step`);
  return next;
};

/** The held actor's requests when it runs alone (the other after it): its boundaries are 0..n. */
export const soloRequests = async (
  activity: Activity,
  command: ExplorerCommand,
  direction: Direction,
  grace: boolean,
  seed: number,
): Promise<readonly string[]> =>
  (await runInterleaving({ activity, command, direction, grace, seed, boundary: NEVER }))
    .heldRequests;
