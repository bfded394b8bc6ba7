import { DEFAULT_ROTATE_TIMEOUT_MS } from '../command-defaults.js';
import { errorName } from '../../lambda/aws/aws-error.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
} from '../../lambda/aws/secrets-manager-secret-store.js';
import type { AccessKeyStore } from '../../lambda/aws/iam-access-key-store.js';
import type { OperatorSecretStore, SecretDescription } from '../aws/operator-secret-store.js';
import { requireOwnership } from '../confirmation.js';
import {
  functionNameOf,
  type RotationLogEvent,
  type RotationLogReader,
} from '../aws/rotation-logs.js';
import type { CliIo, Clock } from '../dependencies.js';
import { parseLogLine } from '../../lambda/aws/rotation-log-events.js';

export { parseLogLine };
import { CliError, EXIT_FAILURE, EXIT_OK, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import { formatSeconds, formatSpan, shortVersionId } from '../format.js';
import { describeManagedSecret, type ManagedSecret } from '../secret-ref.js';
import { pendingVersionIds, readVersionKey, versionsWithStage } from '../secret-state.js';

export { DEFAULT_ROTATE_TIMEOUT_MS };
const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** Log lines reach CloudWatch Logs a few seconds after they are written. */
const LOG_SETTLE_ATTEMPTS = 3;
/** Log events are read from this long before RotateSecret (clocks differ). */
const LOG_LOOKBACK_MS = 60_000;

export interface RotateOptions {
  readonly secret: string;
  readonly wait?: boolean;
  /** @default 300000 */
  readonly timeoutMs?: number;
  /** @default 1000 */
  readonly pollIntervalMs?: number;
  readonly json?: boolean;
}

export interface RotateDependencies {
  readonly secrets: OperatorSecretStore;
  /** Reads the user's ownership tag (iam:GetUser) before RotateSecret. */
  readonly iam: AccessKeyStore;
  readonly logs: RotationLogReader;
  readonly clock: Clock;
  readonly io: CliIo;
}

/** The refusal while an earlier rotation is incomplete, naming `cancel`. */
export const incompleteRotationMessage = (
  managed: ManagedSecret,
  versionIds: readonly string[],
): string =>
  `Secret ${managed.description.name}: a previous rotation isn't complete (AWSPENDING is on version ${
    versionIds.join(', ') || '(unknown)'
  }, which is not AWSCURRENT); Secrets Manager keeps retrying it and refuses a new one. See how it stands: iam-key-rotation status ${managed.reference}. Give it up (removes AWSPENDING and the key it made): iam-key-rotation cancel ${managed.reference}`;

type Outcome =
  | {
      readonly kind: 'rotated';
      readonly accessKeyId?: string;
      readonly previousAccessKeyId?: string;
    }
  | { readonly kind: 'failed'; readonly stages: readonly string[] }
  | { readonly kind: 'timed out'; readonly stages: readonly string[] };

/** Follows one rotation by its ClientRequestToken until it completes, fails or times out. */
class RotationFollower {
  private readonly seenEvents = new Set<string>();
  private stages: readonly string[] = [AWSPENDING];
  private storedKey = false;
  private logGroup: string | undefined;
  public lastError: string | undefined;

  public constructor(
    private readonly deps: RotateDependencies,
    private readonly managed: ManagedSecret,
    private readonly token: string,
    private readonly startedAt: number,
  ) {}

  private say(text: string): void {
    const elapsed = `+${formatSeconds(this.deps.clock.now() - this.startedAt)}`;
    this.deps.io.stderr(`  ${elapsed.padStart(9)}  ${text}\n`);
  }

  /** Finds the function's log group; without one the rotation is followed by its labels alone. */
  public async openLogs(): Promise<void> {
    const functionArn = this.managed.description.rotationLambdaArn;
    if (functionArn === undefined) return;
    try {
      this.logGroup = await this.deps.logs.logGroupOf(functionArn);
    } catch {
      this.logGroup = undefined;
    }
  }

  /** Prints the function's new log lines for this token; true when one reports an error. */
  public async readLogs(): Promise<boolean> {
    if (this.logGroup === undefined) return false;
    let events: RotationLogEvent[];
    try {
      events = await this.deps.logs.eventsContaining(
        this.logGroup,
        this.token,
        new Date(this.startedAt - LOG_LOOKBACK_MS),
      );
    } catch {
      // Not readable (no logs:FilterLogEvents, no such group yet): follow the labels alone.
      this.logGroup = undefined;
      return false;
    }
    let sawError = false;
    for (const event of events) {
      if (this.seenEvents.has(event.eventId)) continue;
      this.seenEvents.add(event.eventId);
      const line = parseLogLine(event.message);
      this.say(`log: ${line.text}`);
      if (line.error !== undefined) {
        this.lastError = line.error;
        sawError = true;
      }
    }
    return sawError;
  }

  /** Reads the labels of the token's version and prints what changed. */
  public async readLabels(): Promise<SecretDescription> {
    const { secrets } = this.deps;
    const secret = await secrets.describe(this.managed.description.arn);
    const stages = secret.versionIdsToStages[this.token] ?? [];
    const before = this.stages;
    if (stages.join() !== before.join()) {
      this.stages = stages;
      const moved = stages.includes(AWSCURRENT) && !before.includes(AWSCURRENT);
      const released = !stages.includes(AWSPENDING) && before.includes(AWSPENDING);
      this.say(
        `labels: version ${shortVersionId(this.token)} [${before.join(', ')}] -> [${stages.join(', ')}]${
          moved
            ? `: ${AWSCURRENT} moved to the new version (finishSecret)`
            : released && stages.includes(AWSCURRENT)
              ? `: ${AWSPENDING} removed, the rotation is complete`
              : released
                ? `: ${AWSPENDING} removed without ${AWSCURRENT}: the rotation was given up or cancelled`
                : ''
        }`,
      );
    }
    if (!this.storedKey && stages.includes(AWSPENDING) && !stages.includes(AWSCURRENT)) {
      try {
        const version = await readVersionKey(
          secrets,
          secret,
          this.managed.userName,
          this.token,
          AWSPENDING,
        );
        if (version.hasValue) {
          this.storedKey = true;
          this.say(
            version.accessKeyId === undefined
              ? `createSecret stored a value without an access key${version.problem === undefined ? '' : `: ${version.problem}`}`
              : `createSecret stored the new access key ${version.accessKeyId} in ${AWSPENDING}`,
          );
        }
      } catch {
        // Not readable now; the labels will tell the rest.
      }
    }
    return secret;
  }

  public async follow(timeoutMs: number, pollIntervalMs: number): Promise<Outcome> {
    const { clock } = this.deps;
    for (;;) {
      await this.readLogs();
      const secret = await this.readLabels();
      const { stages } = this;
      if (stages.includes(AWSCURRENT) && !stages.includes(AWSPENDING)) {
        await this.readLogs();
        return { kind: 'rotated', ...(await this.keys(secret)) };
      }
      if (!stages.includes(AWSPENDING) && !stages.includes(AWSCURRENT)) {
        // Log lines arrive a little after the fact: give the error a moment to show.
        for (let attempt = 0; attempt < LOG_SETTLE_ATTEMPTS; attempt++) {
          if (this.lastError !== undefined || this.logGroup === undefined) break;
          if (await this.readLogs()) break;
          await clock.sleep(pollIntervalMs);
        }
        return { kind: 'failed', stages };
      }
      if (clock.now() - this.startedAt >= timeoutMs) {
        await this.readLogs();
        return { kind: 'timed out', stages };
      }
      await clock.sleep(pollIntervalMs);
    }
  }

  private async keys(
    secret: SecretDescription,
  ): Promise<{ accessKeyId?: string; previousAccessKeyId?: string }> {
    const read = async (
      versionId: string | undefined,
      stage: string,
    ): Promise<string | undefined> => {
      if (versionId === undefined) return undefined;
      try {
        return (
          await readVersionKey(this.deps.secrets, secret, this.managed.userName, versionId, stage)
        ).accessKeyId;
      } catch {
        return undefined;
      }
    };
    const [accessKeyId, previousAccessKeyId] = await Promise.all([
      read(this.token, AWSCURRENT),
      read(versionsWithStage(secret, AWSPREVIOUS)[0], AWSPREVIOUS),
    ]);
    return {
      ...(accessKeyId === undefined ? {} : { accessKeyId }),
      ...(previousAccessKeyId === undefined ? {} : { previousAccessKeyId }),
    };
  }

  public get logsReadable(): boolean {
    return this.logGroup !== undefined;
  }
}

/**
 * `iam-key-rotation rotate <secret> [--wait]`: RotateSecret with the secret's own configuration;
 * with `--wait`, follows the rotation (labels, and the function's log lines when readable) to
 * its end.
 */
export const runRotate = async (
  deps: RotateDependencies,
  options: RotateOptions,
): Promise<ExitCode> => {
  const { io, clock, secrets } = deps;
  const managed = await describeManagedSecret(secrets, options.secret);
  const { description: secret, reference, userName } = managed;
  // The function would refuse every step: say so before starting a rotation bound to fail.
  await requireOwnership(deps.iam, secret, userName);
  const incomplete = pendingVersionIds(secret);
  if (incomplete.length > 0) throw new CliError(incompleteRotationMessage(managed, incomplete));
  if (secret.rotationLambdaArn === undefined) {
    throw new CliError(
      `Secret ${secret.name} has no rotation function configured, so Secrets Manager cannot rotate it. Deploy the stack that owns it (it creates the rotation schedule)`,
    );
  }
  const startedAt = clock.now();
  let token: string;
  try {
    token = await secrets.rotateSecret(secret.arn);
  } catch (error) {
    if (
      errorName(error) === 'InvalidRequestException' &&
      error instanceof Error &&
      /previous rotation/i.test(error.message)
    ) {
      const again = await secrets.describe(secret.arn).catch(() => secret);
      throw new CliError(
        incompleteRotationMessage(managed, pendingVersionIds(again)),
        EXIT_FAILURE,
        {
          cause: error,
        },
      );
    }
    throw new CliError(
      `RotateSecret on ${secret.name} failed: ${describeFailure(error)}`,
      EXIT_FAILURE,
      {
        cause: error,
      },
    );
  }
  const base = {
    secretName: secret.name,
    secretArn: secret.arn,
    userName,
    clientRequestToken: token,
  };
  io.stderr(
    `Started rotation of ${secret.name} (IAM user ${userName}) by function ${functionNameOf(secret.rotationLambdaArn)}: version ${token}\n`,
  );
  if (options.wait !== true) {
    if (options.json === true) io.stdout(`${JSON.stringify({ ...base, outcome: 'started' })}\n`);
    else
      io.stdout(
        `Rotation of ${secret.name} started: version ${token}. Follow it: iam-key-rotation status ${reference}\n`,
      );
    return EXIT_OK;
  }

  const timeoutMs = options.timeoutMs ?? DEFAULT_ROTATE_TIMEOUT_MS;
  const follower = new RotationFollower(deps, managed, token, startedAt);
  await follower.openLogs();
  if (!follower.logsReadable) {
    io.stderr(
      "  (the function's log lines are not readable with these credentials: following the labels only)\n",
    );
  }
  const outcome = await follower.follow(
    timeoutMs,
    options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
  );
  const durationMs = clock.now() - startedAt;
  const whereToLook = follower.logsReadable
    ? ''
    : ` See the log group of function ${functionNameOf(secret.rotationLambdaArn)} (search for ${token}).`;
  switch (outcome.kind) {
    case 'rotated':
      if (options.json === true) {
        io.stdout(
          `${JSON.stringify({ ...base, outcome: outcome.kind, accessKeyId: outcome.accessKeyId, previousAccessKeyId: outcome.previousAccessKeyId, durationMs })}\n`,
        );
      } else {
        io.stdout(
          `Rotated ${secret.name}: access key ${outcome.accessKeyId ?? '(unreadable)'} is ${AWSCURRENT}${
            outcome.previousAccessKeyId === undefined
              ? ''
              : `; ${outcome.previousAccessKeyId} is ${AWSPREVIOUS}`
          }. Took ${formatSeconds(durationMs)}.\n`,
        );
      }
      return EXIT_OK;
    case 'failed': {
      const error = follower.lastError;
      if (options.json === true) {
        io.stdout(`${JSON.stringify({ ...base, outcome: outcome.kind, error, durationMs })}\n`);
      }
      io.stderr(
        `Rotation of ${secret.name} version ${token} failed after ${formatSeconds(durationMs)}: ${
          error ?? 'the function gave it up or someone cancelled it'
        }.${whereToLook} The secret is unchanged (${AWSCURRENT} did not move). Once the cause is fixed, rotate again: iam-key-rotation rotate ${reference} --wait\n`,
      );
      return EXIT_FAILURE;
    }
    case 'timed out': {
      const error = follower.lastError;
      if (options.json === true) {
        io.stdout(`${JSON.stringify({ ...base, outcome: outcome.kind, error, durationMs })}\n`);
      }
      io.stderr(
        `Rotation of ${secret.name} version ${token} has not finished after ${formatSpan(timeoutMs)}: the version carries [${outcome.stages.join(', ')}]${
          error === undefined ? '' : `; the function's last error: ${error}`
        }.${whereToLook} Secrets Manager retries a failed rotation. See how it stands: iam-key-rotation status ${reference}. Give it up: iam-key-rotation cancel ${reference}\n`,
      );
      return EXIT_FAILURE;
    }
    default: {
      const unexpected: never = outcome;
      throw new Error(`Unexpected outcome ${JSON.stringify(unexpected)}`);
    }
  }
};
