import { ROTATION_STEPS } from '../../../local/simulation/index.js';
import { boundaryOf, type BoundarySpec } from './boundary-scheduler.js';
import {
  activityName,
  EXPLORER_COMMANDS,
  interleavingName,
  runInterleaving,
  soloRequests,
  type Activity,
  type Direction,
  type ExplorerCommand,
  type Interleaving,
  type InterleavingResult,
} from './interleaving.js';

/** One pair explored at every boundary of its held actor: an activity, a command, an order. */
export interface Combination {
  readonly activity: Activity;
  readonly command: ExplorerCommand;
  readonly direction: Direction;
  readonly grace: boolean;
  readonly seed: number;
}

export const combinationName = (c: Combination): string =>
  `${activityName(c.activity)} x ${c.command}, ${c.direction}, ${c.grace ? 'grace' : 'no grace'}`;

export const EXPLORER_SEED = 1;

/** Every activity of the function (the retirement with a grace period only). */
export const activitiesFor = (grace: boolean): Activity[] => [
  ...(['step', 'duplicate', 'stalled'] as const).flatMap((kind) =>
    ROTATION_STEPS.map((step): Activity => ({ kind, step })),
  ),
  ...(grace ? [{ kind: 'retirement' } as const] : []),
];

/** The whole set: every activity, command and order, with and without a grace period. */
export const fullPlan = (seed = EXPLORER_SEED): Combination[] =>
  [false, true].flatMap((grace) =>
    activitiesFor(grace).flatMap((activity) =>
      EXPLORER_COMMANDS.flatMap((command) =>
        (activity.kind === 'stalled'
          ? (['command-in-activity'] as const)
          : (['command-in-activity', 'activity-in-command'] as const)
        ).map((direction): Combination => ({ activity, command, direction, grace, seed })),
      ),
    ),
  );

/**
 * The boundaries of a held actor that sent `requests` requests alone: before each, and after
 * the last. A stalled delivery is stalled by one of its requests, so: before each.
 */
export const boundariesOf = (c: Combination, requests: number): BoundarySpec[] => {
  // An actor that sends nothing has one boundary: before it starts (the two run one after the other).
  if (requests === 0) return [{ phase: 'before', request: 0 }];
  const count = c.activity.kind === 'stalled' ? requests : requests + 1;
  return Array.from({ length: count }, (_, k) => boundaryOf(k, requests));
};

/** An interleaving that broke an invariant, with what it broke. */
export interface Finding {
  readonly name: string;
  readonly interleaving: Interleaving;
  /** The held actor's request at the boundary (`before secretsmanager.UpdateSecretVersionStage`). */
  readonly at: string;
  readonly violations: readonly string[];
  readonly commandExitCode: number;
  readonly commandMessage?: string;
}

export interface CombinationReport {
  readonly combination: Combination;
  /** The held actor's requests in its solo run. */
  readonly soloRequests: readonly string[];
  /** Interleavings run (the solo run not counted). */
  readonly explored: number;
  readonly findings: readonly Finding[];
}

const describeAt = (boundary: BoundarySpec, requests: readonly string[]): string =>
  `${boundary.phase} ${requests[boundary.request] ?? '?'}`;

export const findingOf = (result: InterleavingResult, solo: readonly string[]): Finding => ({
  name: interleavingName(result.interleaving),
  interleaving: result.interleaving,
  at: describeAt(result.interleaving.boundary, solo),
  violations: result.violations,
  commandExitCode: result.commandExitCode,
  ...(result.commandMessage === undefined ? {} : { commandMessage: result.commandMessage }),
});

/**
 * Counts the held actor's boundaries with a solo run, then runs the interleaving at each of
 * them (or at those `pick` keeps) and judges each.
 */
export const exploreCombination = async (
  c: Combination,
  pick: (boundaries: BoundarySpec[]) => BoundarySpec[] = (all) => all,
): Promise<CombinationReport> => {
  const solo = await soloRequests(c.activity, c.command, c.direction, c.grace, c.seed);
  const findings: Finding[] = [];
  const boundaries = pick(boundariesOf(c, solo.length));
  for (const boundary of boundaries) {
    const result = await runInterleaving({ ...c, boundary });
    if (result.violations.length > 0) findings.push(findingOf(result, solo));
  }
  return { combination: c, soloRequests: solo, explored: boundaries.length, findings };
};

/**
 * The representative slice CI runs (every boundary of each): each command, each kind of
 * activity, both orders, with and without a grace period, including the combinations of the
 * six races of issue 15 that the explorer reaches.
 */
const SLICE: readonly Omit<Combination, 'seed'>[] = [
  {
    activity: { kind: 'stalled', step: 'finishSecret' },
    command: 'rollback',
    direction: 'command-in-activity',
    grace: false,
  },
  {
    activity: { kind: 'retirement' },
    command: 'rollback',
    direction: 'activity-in-command',
    grace: true,
  },
  {
    activity: { kind: 'step', step: 'finishSecret' },
    command: 'cancel',
    direction: 'command-in-activity',
    grace: false,
  },
  {
    activity: { kind: 'step', step: 'createSecret' },
    command: 'cancel',
    direction: 'command-in-activity',
    grace: true,
  },
  {
    activity: { kind: 'duplicate', step: 'createSecret' },
    command: 'put-value-by-hand',
    direction: 'command-in-activity',
    grace: true,
  },
  {
    activity: { kind: 'step', step: 'testSecret' },
    command: 'rotate',
    direction: 'command-in-activity',
    grace: false,
  },
  {
    activity: { kind: 'step', step: 'createSecret' },
    command: 'deactivate-previous-key-by-hand',
    direction: 'activity-in-command',
    grace: true,
  },
  {
    activity: { kind: 'duplicate', step: 'finishSecret' },
    command: 'rotate',
    direction: 'activity-in-command',
    grace: false,
  },
];

export const CI_SLICE: readonly Combination[] = SLICE.map((combination) => ({
  ...combination,
  seed: EXPLORER_SEED,
}));
