import { afterAll, describe, expect, it } from 'vitest';
import { KNOWN_RACES, unexplained } from '../../support/explorer/known-races.js';
import {
  CI_SLICE,
  combinationName,
  exploreCombination,
  fullPlan,
  type Finding,
} from '../../support/explorer/plan.js';

/**
 * The interleaving explorer (docs/interleaving-explorer.md): each operator command run to its end
 * at every request boundary of each activity of the rotation function, and each activity at
 * every request boundary of the command, with and without a grace period; every run judged.
 * CI runs a representative slice; `ROTATION_FULL_INTERLEAVINGS=1` runs the whole set.
 *
 * A finding that a known race of issue 15 explains (known-races.ts: not fixed yet) is reported,
 * not failed; anything else fails, named so that it can be replayed.
 */
const FULL = process.env.ROTATION_FULL_INTERLEAVINGS === '1';
const PLAN = FULL ? fullPlan() : CI_SLICE;

let explored = 0;
const knownFindings: Finding[] = [];

const describeFinding = (finding: Finding): string =>
  `${finding.name} (${finding.at}): ${finding.violations.join(' | ')}`;

describe(`Interleaving explorer (${FULL ? 'the whole set' : 'the CI slice'})`, () => {
  afterAll(() => {
    const byRace = new Map<string, number>();
    for (const finding of knownFindings) {
      for (const race of KNOWN_RACES.filter((known) => known.matches(finding.interleaving))) {
        byRace.set(race.id, (byRace.get(race.id) ?? 0) + 1);
      }
    }
    console.log(
      `Interleaving explorer: ${String(explored)} interleavings explored in ${String(PLAN.length)} combinations; ${String(knownFindings.length)} broke an invariant, each explained by a known race not fixed yet${
        byRace.size === 0
          ? ''
          : ` (${[...byRace].map(([id, count]) => `${id}: ${String(count)}`).join(', ')})`
      }`,
    );
  });

  it.each(PLAN.map((combination) => [combinationName(combination), combination] as const))(
    '%s: no invariant breaks but the known races',
    async (_name, combination) => {
      const report = await exploreCombination(combination);
      explored += report.explored;

      expect(report.explored).toBeGreaterThan(0);
      const failures = report.findings.filter((finding) => unexplained(finding).length > 0);
      knownFindings.push(...report.findings.filter((finding) => !failures.includes(finding)));
      expect(failures.map(describeFinding)).toEqual([]);
    },
    FULL ? 600_000 : 120_000,
  );
});
