/**
 * A simulated account with one IAM user and its secret, and the real rotation handler
 * registered as the secret's rotation function (as `npm start` does).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from '../../lambda/dependencies.js';
import {
  deployToSimulation,
  discardedMetrics,
  secretNameOf,
} from '../../local/simulated-deployment.js';
import { Simulation, type CallRecord, type Clock } from '../../local/simulation/index.js';

export const USER_NAME = 'bench-user';
export const SECRET_NAME = secretNameOf(USER_NAME);

export interface RotationOutcome {
  readonly wallMs: number;
  readonly status: string;
  /** The calls the rotation function made during this rotation. */
  readonly calls: readonly CallRecord[];
}

export interface RotationRig {
  readonly sim: Simulation;
  /** Runs one rotation (the first one enables rotation) and waits until it ends. */
  rotate(): Promise<RotationOutcome>;
}

export interface RotationRigOptions {
  readonly clock: Clock;
  readonly propagationDelayMs: number;
  /** @default 'SILENT' */
  readonly logLevel?: 'SILENT' | 'INFO';
  readonly seed?: number;
}

export const createRotationRig = async (options: RotationRigOptions): Promise<RotationRig> => {
  const { clock } = options;
  const sim = new Simulation({
    clock,
    seed: options.seed ?? 1,
    propagationDelayMs: options.propagationDelayMs,
    // The construct's default timeout; one attempt, so a failure shows as a failure.
    rotation: { retry: { maxAttempts: 1, delayMs: 1_000 }, lambdaTimeoutMs: 120_000 },
  });
  const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: options.logLevel ?? 'SILENT' });
  // Silent: the function's metrics (EMF lines on stdout) would mix into the benchmark's table.
  const deployment = await deployToSimulation({
    sim,
    userName: USER_NAME,
    logger,
    ...((options.logLevel ?? 'SILENT') === 'SILENT' ? { metrics: discardedMetrics } : {}),
  });
  return {
    sim,
    rotate: async () => {
      const callsBefore = sim.calls.length;
      const startedAt = performance.now();
      const rotation = await deployment.rotate();
      const wallMs = performance.now() - startedAt;
      return {
        wallMs,
        status: rotation?.status ?? 'not started',
        calls: sim.calls.slice(callsBefore).filter((call) => call.invocationId !== undefined),
      };
    },
  };
};
