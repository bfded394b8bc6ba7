import type { Activity, ExplorerCommand, Interleaving } from './interleaving.js';
import type { Finding } from './plan.js';

/**
 * The races the explorer reproduces that are not fixed on this branch yet (issue 15, and what the
 * explorer found besides; /work/wt/FINDINGS-explorer.md has the details). A finding is explained
 * when every invariant it breaks (its category: 4, 6, 9, A-E) is one that a known race matching
 * its interleaving breaks. Remove an entry once its fix is merged: its interleavings then fail
 * the explorer's tests if they still break anything, and become named regression tests.
 */
export interface KnownRace {
  readonly id: string;
  readonly summary: string;
  readonly categories: readonly string[];
  readonly matches: (interleaving: Interleaving) => boolean;
}

const isStep = (activity: Activity, step: string, kinds: readonly string[]): boolean =>
  activity.kind !== 'retirement' && activity.step === step && kinds.includes(activity.kind);

const ALL_KINDS = ['step', 'duplicate', 'stalled'] as const;

const by =
  (command: ExplorerCommand, activity: (activity: Activity) => boolean) =>
  (interleaving: Interleaving): boolean =>
    interleaving.command === command && activity(interleaving.activity);

export const KNOWN_RACES: readonly KnownRace[] = [
  {
    id: 'race 1',
    summary:
      'rollback races the retirement: rollback acts on its stale read, or the retirement deactivates after its last re-check; AWSCURRENT ends on an Inactive key',
    categories: ['4', 'A'],
    matches: by('rollback', (activity) => activity.kind === 'retirement'),
  },
  {
    id: 'race 2',
    summary:
      'cancel races finishSecret: cancel deletes the pending key that finishSecret makes AWSCURRENT',
    categories: ['A', 'D'],
    matches: by('cancel', (activity) => isStep(activity, 'finishSecret', ALL_KINDS)),
  },
  {
    id: 'race 3',
    summary:
      'a duplicate (or stalled, retried) finishSecret undoes a rollback: its RemoveFromVersionId matches again and it deactivates the key rolled back to',
    categories: ['4', '6', 'A', 'B'],
    matches: by('rollback', (activity) =>
      isStep(activity, 'finishSecret', ['duplicate', 'stalled']),
    ),
  },
  {
    id: 'race 5',
    summary:
      "cancel racing createSecret is undone: its PutSecretValue re-attaches AWSPENDING and the rotation completes, or cancel's stale plan leaves the new key",
    categories: ['D'],
    matches: by('cancel', (activity) => isStep(activity, 'createSecret', ALL_KINDS)),
  },
  {
    id: 'F1',
    summary:
      "rollback waits exactly the function's timeout: a step held until then is not past its deadline, survives, and acts on what it read before the rollback (deletes or deactivates the key rolled back to)",
    categories: ['4', '9', 'A'],
    matches: (interleaving) =>
      interleaving.command === 'rollback' &&
      interleaving.direction === 'command-in-activity' &&
      (isStep(interleaving.activity, 'createSecret', ALL_KINDS) ||
        isStep(interleaving.activity, 'finishSecret', ['step'])),
  },
  {
    id: 'F2',
    summary:
      'rollback and cancel crash with a raw InvalidRequestException when a label moves between their DescribeSecret and GetSecretValue(VersionId, VersionStage)',
    categories: ['E'],
    matches: (interleaving) =>
      (interleaving.command === 'rollback' || interleaving.command === 'cancel') &&
      interleaving.direction === 'activity-in-command',
  },
  {
    id: 'F3',
    summary:
      "rollback's stale read: createSecret deletes the AWSPREVIOUS key (to make room) after rollback read it Active; rollback skips the reactivation and moves AWSCURRENT onto the deleted key",
    categories: ['A'],
    matches: (interleaving) =>
      interleaving.command === 'rollback' &&
      interleaving.direction === 'activity-in-command' &&
      isStep(interleaving.activity, 'createSecret', ['step']),
  },
  {
    id: 'F4',
    summary:
      'by hand, not ours: a value read before finishSecret and put back after it makes the key finishSecret deactivated AWSCURRENT again',
    categories: ['A'],
    matches: by('put-value-by-hand', (activity) => isStep(activity, 'finishSecret', ['step'])),
  },
];

const categoryOf = (violation: string): string => violation.slice(0, violation.indexOf(':'));

/** The violations of a finding that no known race matching its interleaving explains. */
export const unexplained = (finding: Finding): string[] => {
  const known = new Set(
    KNOWN_RACES.filter((race) => race.matches(finding.interleaving)).flatMap(
      (race) => race.categories,
    ),
  );
  return finding.violations.filter((violation) => !known.has(categoryOf(violation)));
};
