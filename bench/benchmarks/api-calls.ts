/**
 * API calls per service per step of one rotation, from the simulation's call log, against the
 * minimal sequence (BENCHMARKS.md gives the reason for every call). Propagation delay 0, so
 * testSecret's first GetCallerIdentity succeeds; the polling under a delay is counted apart.
 * Every SDK attempt is a call: a retried request (throttling, and IAM's LimitExceeded, which
 * the SDK retries as throttling) counts each time.
 */
import { VirtualClock, type CallRecord } from '../../local/simulation/index.js';
import { createRotationRig } from '../support/rotation-rig.js';
import { progress } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';

type Step = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
const STEPS: readonly Step[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

/** `service:Operation`, in order, per step. */
type Sequence = Readonly<Record<Step, readonly string[]>>;

const GUARD = 'secretsmanager:DescribeSecret';
const OWNER = 'iam:GetUser';
const GET = 'secretsmanager:GetSecretValue';
const LIST = 'iam:ListAccessKeys';
const MOVE = 'secretsmanager:UpdateSecretVersionStage';
const TAG = 'secretsmanager:TagResource';

/** Rotation 1: AWSCURRENT holds only {"UserName"}, the user has no key. */
export const MINIMAL_BOOTSTRAP: Sequence = {
  createSecret: [
    GUARD,
    OWNER,
    GET,
    GET,
    LIST,
    'iam:CreateAccessKey',
    'secretsmanager:PutSecretValue',
  ],
  setSecret: [GUARD, OWNER, GET, LIST],
  // The last call marks the proven version IAM_KEY_ROTATION_TESTED (finishSecret promotes no other).
  testSecret: [GUARD, OWNER, GET, 'sts:GetCallerIdentity', MOVE],
  // Issue 15's fence: the labels read again right before the AWSCURRENT move (GUARD), and the
  // AWSCURRENT key recorded in the secret's tag (status needs no GetSecretValue).
  finishSecret: [GUARD, OWNER, GET, GET, LIST, GUARD, MOVE, TAG, MOVE],
};

/** Rotation 3 onwards: an Active AWSCURRENT key and an Inactive AWSPREVIOUS key. */
export const MINIMAL_STEADY_STATE: Sequence = {
  createSecret: [
    GUARD,
    OWNER,
    GET,
    GET,
    LIST,
    'iam:DeleteAccessKey',
    'iam:CreateAccessKey',
    'secretsmanager:PutSecretValue',
  ],
  setSecret: [GUARD, OWNER, GET, LIST],
  testSecret: [GUARD, OWNER, GET, 'sts:GetCallerIdentity', MOVE],
  // As at bootstrap, plus the labels read once more before deactivating the previous key (a
  // rollback that took AWSCURRENT over, or is in progress, keeps it Active).
  finishSecret: [
    GUARD,
    OWNER,
    GET,
    GET,
    LIST,
    GUARD,
    MOVE,
    TAG,
    GUARD,
    'iam:UpdateAccessKey',
    MOVE,
  ],
};

const SERVICE_LABEL: Record<string, string> = { secretsmanager: 'SM', iam: 'IAM', sts: 'STS' };

const countByService = (calls: readonly string[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const call of calls) {
    const service = call.split(':')[0] ?? call;
    counts.set(service, (counts.get(service) ?? 0) + 1);
  }
  return counts;
};

const describeCounts = (counts: ReadonlyMap<string, number>): string =>
  ['secretsmanager', 'iam', 'sts']
    .filter((service) => (counts.get(service) ?? 0) > 0)
    .map((service) => `${SERVICE_LABEL[service] ?? service} ${String(counts.get(service))}`)
    .join(' · ') || 'none';

/** Calls in `actual` beyond `minimal` (a multiset difference). */
const extraCalls = (actual: readonly string[], minimal: readonly string[]): string[] => {
  const left = [...minimal];
  const extra: string[] = [];
  for (const call of actual) {
    const index = left.indexOf(call);
    if (index === -1) extra.push(call);
    else left.splice(index, 1);
  }
  return extra;
};

const asNames = (calls: readonly CallRecord[], step: Step): string[] =>
  calls.filter((call) => call.step === step).map((call) => `${call.service}:${call.operation}`);

export interface ApiCallResult {
  readonly bootstrap: readonly CallRecord[];
  readonly steadyState: readonly CallRecord[];
  /** GetCallerIdentity attempts in a steady-state rotation per propagation delay (ms). */
  readonly stsPolls: ReadonlyMap<number, number>;
}

export const POLL_DELAYS_MS = [2_000, 8_000, 15_000];

export const measureApiCalls = async (): Promise<ApiCallResult> => {
  progress('API calls: three rotations on a virtual clock');
  const rig = await createRotationRig({ clock: new VirtualClock(), propagationDelayMs: 0 });
  const outcomes = [await rig.rotate(), await rig.rotate(), await rig.rotate()];
  const failed = outcomes.find((outcome) => outcome.status !== 'succeeded');
  if (failed !== undefined) throw new Error(`a rotation ended ${failed.status}`);
  const stsPolls = new Map<number, number>();
  for (const delay of POLL_DELAYS_MS) {
    const polled = await createRotationRig({ clock: new VirtualClock(), propagationDelayMs: 0 });
    await polled.rotate();
    polled.sim.setPropagationDelay(delay);
    const outcome = await polled.rotate();
    if (outcome.status !== 'succeeded')
      throw new Error(`rotation with delay ${String(delay)} ended ${outcome.status}`);
    stsPolls.set(
      delay,
      outcome.calls.filter((call) => call.operation === 'GetCallerIdentity').length,
    );
  }
  return { bootstrap: outcomes[0]?.calls ?? [], steadyState: outcomes[2]?.calls ?? [], stsPolls };
};

const rowsFor = (label: string, calls: readonly CallRecord[], minimal: Sequence): BenchRow[] => {
  const rows: BenchRow[] = [];
  let total = 0;
  let totalMinimal = 0;
  const allExtra: string[] = [];
  for (const step of STEPS) {
    const actual = asNames(calls, step);
    const extra = extraCalls(actual, minimal[step]);
    const missing = extraCalls(minimal[step], actual);
    total += actual.length;
    totalMinimal += minimal[step].length;
    allExtra.push(...extra.map((call) => `${step} ${call}`));
    rows.push({
      figure: `API calls, ${label}: ${step}`,
      value: `${describeCounts(countByService(actual))}${extra.length > 0 ? `; extra: ${extra.join(', ')}` : ''}${missing.length > 0 ? `; fewer than listed: ${missing.join(', ')}` : ''}`,
      target: `≤ ${describeCounts(countByService(minimal[step]))}`,
      met: extra.length === 0,
    });
  }
  const unattributed = calls.filter((call) => call.step === undefined).length;
  rows.push({
    figure: `API calls, ${label}: total`,
    value: `${String(total)}${unattributed > 0 ? ` (+${String(unattributed)} without a step)` : ''}${allExtra.length > 0 ? `; extra: ${allExtra.join(', ')}` : ''}`,
    target: `≤ ${String(totalMinimal)} (minimal sequence)`,
    met: allExtra.length === 0 && unattributed === 0,
  });
  return rows;
};

export const apiCallRows = (result: ApiCallResult): BenchRow[] => [
  ...rowsFor('steady state (rotation 3)', result.steadyState, MINIMAL_STEADY_STATE),
  ...rowsFor('bootstrap (rotation 1)', result.bootstrap, MINIMAL_BOOTSTRAP),
  {
    figure: 'STS GetCallerIdentity attempts while a new key propagates',
    value: [...result.stsPolls.entries()]
      .map(([delay, count]) => `D=${String(delay / 1_000)} s: ${String(count)}`)
      .join(' · '),
    target: 'report (waiting, not extra work)',
  },
];
