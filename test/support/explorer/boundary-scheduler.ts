import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestBoundary, Simulation } from '../../../local/simulation/index.js';

/**
 * Who sends a request: a Lambda invocation of the rotation function (its id, `inv-N`), or an
 * actor started with {@link runAsActor} (an operator command), or nobody the scheduler follows
 * (test setup).
 */
export type ActorId = string;

const actors = new AsyncLocalStorage<ActorId>();

/** Runs `body` as the actor `name`: every request it sends is that actor's. */
export const runAsActor = <T>(name: ActorId, body: () => Promise<T>): Promise<T> =>
  actors.run(name, body);

/** The actor the caller runs as, if any. */
export const currentActor = (): ActorId | undefined => actors.getStore();

/** Runs `body` as no actor (so that a hold's action is not taken for the actor it holds). */
export const runAsNobody = <T>(body: () => T): T => actors.exit(body);

/**
 * A request boundary of one actor: `before` its request number `request` (0-based, in the order
 * it sends them) or `after` it (its answer known, not yet seen by the actor).
 */
export interface BoundarySpec {
  readonly phase: 'before' | 'after';
  readonly request: number;
}

/**
 * An actor's boundaries are numbered 0..n for n requests: k < n is `before` request k, n is
 * `after` request n-1 (the actor has sent everything, it has not yet seen its last answer).
 */
export const boundaryOf = (k: number, requests: number): BoundarySpec =>
  k < requests ? { phase: 'before', request: k } : { phase: 'after', request: requests - 1 };

/** What a hold does when its actor reaches its boundary; the actor waits until it settles. */
export type HoldAction = (actor: ActorId, boundary: RequestBoundary) => Promise<void>;

interface Hold {
  readonly actor: (actor: ActorId) => boolean;
  readonly at: BoundarySpec;
  readonly action: HoldAction;
  fired: boolean;
}

/**
 * A deterministic scheduler over request boundaries: it sees every request of the simulation
 * before and after it is handled (Simulation.onRequestBoundary), numbers each actor's requests,
 * and holds an actor at a chosen boundary while an action runs (another actor, to completion).
 * Nothing depends on time: which actor runs when is decided by the holds alone, so the same
 * holds give the same run, and a run is named by its holds.
 */
export class BoundaryScheduler {
  /** Each actor's requests, in the order sent: `Service.Operation`. */
  public readonly trace = new Map<ActorId, string[]>();
  private readonly holds: Hold[] = [];
  /** Each request's number among its actor's (an actor may send several at once). */
  private readonly numbers = new WeakMap<object, number>();

  public constructor(private readonly sim: Simulation) {
    sim.onRequestBoundary = (boundary) => this.onBoundary(boundary);
  }

  /** Stops seeing requests. */
  public detach(): void {
    this.sim.onRequestBoundary = undefined;
  }

  /**
   * Holds the first actor that matches `actor` when it reaches `at`, runs `action` (outside any
   * actor and any invocation: its requests are its own), and lets the actor go on once the action
   * has settled. Fires once.
   */
  public holdAt(actor: (actor: ActorId) => boolean, at: BoundarySpec, action: HoldAction): void {
    this.holds.push({ actor, at, action, fired: false });
  }

  /** Whether every hold fired (an actor that took another path may never reach its boundary). */
  public get allHoldsFired(): boolean {
    return this.holds.every((hold) => hold.fired);
  }

  /** The requests `actor` sent so far. */
  public requestsOf(actor: ActorId): readonly string[] {
    return this.trace.get(actor) ?? [];
  }

  private onBoundary(boundary: RequestBoundary): Promise<void> | undefined {
    const actor = boundary.invocationId ?? actors.getStore();
    if (actor === undefined) return undefined;
    let sent = this.trace.get(actor);
    if (sent === undefined) {
      sent = [];
      this.trace.set(actor, sent);
    }
    let request: number;
    if (boundary.phase === 'before') {
      request = sent.length;
      sent.push(`${boundary.service}.${boundary.operation}`);
      this.numbers.set(boundary.request, request);
    } else {
      request = this.numbers.get(boundary.request) ?? -1;
    }
    const hold = this.holds.find(
      (candidate) =>
        !candidate.fired &&
        candidate.at.phase === boundary.phase &&
        candidate.at.request === request &&
        candidate.actor(actor),
    );
    if (hold === undefined) return undefined;
    hold.fired = true;
    return this.sim.outsideInvocation(() => runAsNobody(() => hold.action(actor, boundary)));
  }
}
