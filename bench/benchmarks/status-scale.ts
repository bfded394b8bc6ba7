/**
 * `iam-key-rotation status` over 1,000 managed secrets in the local simulation, named on the
 * command line (the simulation has no ListSecrets): each secret bound to its own user (tags both
 * ways) holding one key, read through the command's own dependencies
 * (cli/dependencies.ts: its SDK clients, retry mode and the status command's bounded concurrency)
 * with the simulation's request handler.
 */
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  TagUserCommand,
} from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createCliDependencies, type CliIo } from '../../cli/dependencies.js';
import { runStatus } from '../../cli/commands/status.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { Simulation } from '../../local/simulation/index.js';
import { ms, progress } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';

/** Issue 17: status over 1,000 secrets within 20 s. */
export const STATUS_SECRETS = 1_000;
export const STATUS_TARGET_MS = 20_000;

/** How many setup requests are in flight at once. */
const SETUP_CONCURRENCY = 16;

export interface StatusScaleResult {
  readonly secrets: number;
  readonly rows: number;
  readonly wallMs: number;
  readonly requests: number;
}

const inBatches = async (count: number, run: (index: number) => Promise<void>): Promise<void> => {
  for (let start = 0; start < count; start += SETUP_CONCURRENCY) {
    await Promise.all(
      Array.from({ length: Math.min(SETUP_CONCURRENCY, count - start) }, (_, offset) =>
        run(start + offset),
      ),
    );
  }
};

export const measureStatusScale = async (secrets = STATUS_SECRETS): Promise<StatusScaleResult> => {
  const sim = new Simulation();
  try {
    const iam = new IAMClient({ ...sim.adminClientConfig() });
    const sm = new SecretsManagerClient({ ...sim.adminClientConfig() });
    progress(`status: creating ${String(secrets)} users, keys and secrets in the simulation`);
    const names: string[] = [];
    await inBatches(secrets, async (index) => {
      const userName = `status-user-${String(index).padStart(4, '0')}`;
      names.push(userName);
      await iam.send(new CreateUserCommand({ UserName: userName }));
      const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
      const created = await sm.send(
        new CreateSecretCommand({
          Name: `iam-key-rotation/${userName}`,
          SecretString: JSON.stringify({
            UserName: userName,
            AccessKeyId: AccessKey?.AccessKeyId,
            SecretAccessKey: AccessKey?.SecretAccessKey,
          }),
          Tags: [{ Key: BINDING_TAG_KEY, Value: userName }],
        }),
      );
      await iam.send(
        new TagUserCommand({
          UserName: userName,
          Tags: [{ Key: OWNER_TAG_KEY, Value: created.ARN ?? '' }],
        }),
      );
    });
    let stdout = '';
    const io: CliIo = {
      stdout: (text) => {
        stdout += text;
      },
      stderr: () => undefined,
      interactive: false,
    };
    const dependencies = createCliDependencies({ clientConfig: sim.adminClientConfig(), io });
    const before = sim.callCount;
    progress(`status: reading ${String(secrets)} secrets`);
    const startedAt = performance.now();
    // By name: the simulation has no ListSecrets (the listing is one paginated call anyway).
    await runStatus(dependencies, { json: true, secrets: names });
    const wallMs = performance.now() - startedAt;
    const printed = JSON.parse(stdout) as { secrets?: unknown[] };
    return {
      secrets,
      rows: printed.secrets?.length ?? 0,
      wallMs,
      requests: sim.callCount - before,
    };
  } finally {
    sim.dispose();
  }
};

export const statusScaleRows = (result: StatusScaleResult): BenchRow[] => [
  {
    figure: `command: status over ${String(result.secrets)} secrets (local simulation, in-process)`,
    value: `${ms(result.wallMs)}; ${String(result.rows)} rows; ${String(result.requests)} requests`,
    target: `< ${ms(STATUS_TARGET_MS)}, every secret listed`,
    met: result.wallMs < STATUS_TARGET_MS && result.rows === result.secrets,
  },
];
