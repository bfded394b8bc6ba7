import type { Activity, ExplorerCommand, Interleaving } from './interleaving.js';
import type { Finding } from './plan.js';

/**
 * What the explorer reproduces that is not fixed on this branch, or not ours to fix (see
 * docs/interleaving-explorer.md). Every race of issue 15 it found is fixed and replayed in
 * test/local/rotation/interleaving-regressions.test.ts. A finding is explained
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
    id: 'F4',
    summary:
      'by hand, not ours: a value read before finishSecret and put back after it makes the key finishSecret deactivated AWSCURRENT again (only the operator can avoid it: status shows it, the next rotation replaces it)',
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
