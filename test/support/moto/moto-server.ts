import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** moto's default account: every ARN it returns carries it. */
export const MOTO_ACCOUNT_ID = '123456789012';

const HOST = '127.0.0.1';
const PYTHON = 'python3';
const INSTALL_HINT = 'pip install "moto[server]"';
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Runs `moto.server` with the harness fix that lets moto evaluate IAM policies against real
 * resource ARNs (see the launcher's docstring). Arguments are those of `python3 -m moto.server`.
 */
const LAUNCHER = fileURLToPath(new URL('./moto-server-with-resource-arns.py', import.meta.url));

/** Thrown when moto is not installed or does not come up; never a reason to skip a test. */
export class MotoUnavailableError extends Error {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(`${message}. Install moto with: ${INSTALL_HINT}`, options);
    this.name = 'MotoUnavailableError';
  }
}

const sleep = (milliseconds: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, milliseconds);
  });

/** A port that was free on 127.0.0.1 a moment ago (bound to port 0, then released). */
export const findFreePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`Expected a TCP address on ${HOST}, got ${String(address)}`));
        return;
      }
      server.close(() => {
        resolve(address.port);
      });
    });
  });

const assertMotoInstalled = (): void => {
  const probe = spawnSync(PYTHON, ['-c', 'import moto, moto.server; print(moto.__version__)'], {
    encoding: 'utf8',
  });
  if (probe.error !== undefined) {
    throw new MotoUnavailableError(`Cannot run ${PYTHON} (${probe.error.message})`, {
      cause: probe.error,
    });
  }
  if (probe.status !== 0) {
    throw new MotoUnavailableError(
      `${PYTHON} cannot import moto.server (exit ${String(probe.status)}): ${probe.stderr.trim().split('\n').at(-1) ?? ''}`,
    );
  }
};

/** A moto server on 127.0.0.1, started for one test file and stopped by its pid. */
export class MotoServer {
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    public readonly port: number,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', () => {
        this.exited = true;
        resolve();
      });
    });
    const keep = (chunk: Buffer): void => {
      // Keep the tail only: enough to explain a failed start.
      this.output = (this.output + chunk.toString('utf8')).slice(-4_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** The URL to pass as `AWS_ENDPOINT_URL` / `endpoint`. */
  public get endpoint(): string {
    return `http://${HOST}:${this.port}`;
  }

  /** The server's process id. */
  public get pid(): number {
    const { pid } = this.child;
    if (pid === undefined) throw new Error('moto server has no pid');
    return pid;
  }

  /**
   * Starts moto on a free loopback port and waits until it answers.
   *
   * @param options `versionCreatedDates`: ListSecretVersionIds reports when each version was
   *   created, as AWS does (moto says "now"; see the launcher's fourth fix)
   */
  public static async start(
    options: { readonly versionCreatedDates?: boolean } = {},
  ): Promise<MotoServer> {
    const port = await findFreePort();
    const child = spawn(PYTHON, [LAUNCHER, '-H', HOST, '-p', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PYTHONUNBUFFERED: '1',
        MOTO_HARNESS_VERSION_DATES: options.versionCreatedDates === true ? '1' : '0',
      },
    });
    const spawnError = new Promise<Error>((resolve) => {
      child.once('error', resolve);
    });
    const server = new MotoServer(child, port);
    // Should the worker exit without afterAll (a crash, a timeout), take the server down too.
    const killOnExit = (): void => {
      if (!server.exited && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    };
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));
    try {
      await server.waitUntilReady(spawnError);
    } catch (error) {
      await server.stop();
      // Whether moto is installed at all, asked only now: the probe imports moto once more (half
      // a second of CPU per suite when asked before every start).
      assertMotoInstalled();
      throw error;
    }
    return server;
  }

  private async waitUntilReady(spawnError: Promise<Error>): Promise<void> {
    let failure: Error | undefined;
    void spawnError.then((error) => {
      failure = error;
    });
    const giveUpAt = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < giveUpAt) {
      if (failure !== undefined) {
        throw new MotoUnavailableError(`Cannot start ${PYTHON}: ${failure.message}`, {
          cause: failure,
        });
      }
      if (this.exited) {
        throw new MotoUnavailableError(
          `moto server exited during start (exit code ${String(this.child.exitCode)}); output: ${this.output}`,
        );
      }
      try {
        const response = await fetch(`${this.endpoint}/moto-api/data.json`);
        await response.body?.cancel();
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    throw new MotoUnavailableError(
      `moto server did not answer on ${this.endpoint} within ${STARTUP_TIMEOUT_MS} ms; output: ${this.output}`,
    );
  }

  private async post(path: string, body?: string): Promise<void> {
    const response = await fetch(`${this.endpoint}${path}`, {
      method: 'POST',
      ...(body === undefined ? {} : { body, headers: { 'Content-Type': 'text/plain' } }),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`moto ${path} answered HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
  }

  /** Forgets every resource in every account and region. */
  public async reset(): Promise<void> {
    await this.post('/moto-api/reset');
  }

  /**
   * Turns request authentication on (SigV4 signatures verified, IAM policies evaluated from
   * the next request on) or off (any credentials accepted).
   */
  public async setAuthentication(enabled: boolean): Promise<void> {
    await this.post('/moto-api/reset-auth', enabled ? '0' : 'inf');
  }

  /** Stops the server by its pid and waits until it has exited. */
  public async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    process.kill(this.child.pid, 'SIGTERM');
    const stopped = await Promise.race([
      this.exitPromise.then(() => true),
      sleep(STOP_TIMEOUT_MS).then(() => false),
    ]);
    if (!stopped && this.child.exitCode === null && this.child.signalCode === null) {
      process.kill(this.child.pid, 'SIGKILL');
      await this.exitPromise;
    }
  }
}
