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

const by =
  (command: ExplorerCommand, activity: (activity: Activity) => boolean) =>
  (interleaving: Interleaving): boolean =>
    interleaving.command === command && activity(interleaving.activity);

export const KNOWN_RACES: readonly KnownRace[] = [
  {
    id: 'F1',
    summary:
      "rollback and cancel wait exactly --step-timeout (the function's timeout): a step or a retirement that began in the same instant is at its deadline, not past it, so it survives the wait and acts on what it read before (race 2, race 5, and the rest of race 3 and race 1 in this order pass with a 1 s margin)",
    categories: ['4', '9', 'A', 'D'],
    matches: (interleaving) =>
      (interleaving.command === 'rollback' || interleaving.command === 'cancel') &&
      interleaving.direction === 'command-in-activity',
  },
  {
    id: 'race 1',
    summary:
      "rollback races the retirement: the retirement deactivates the key after rollback's last re-read; rollback's verification reactivates it after the function's timeout, meanwhile AWSCURRENT holds an Inactive key",
    categories: ['4', 'A'],
    matches: by('rollback', (activity) => activity.kind === 'retirement'),
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
