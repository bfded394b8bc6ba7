import { AsyncLocalStorage } from 'node:async_hooks';
import type { Simulation } from '../../../local/simulation/index.js';

/**
 * Copies the whole state of one {@link Simulation} into another that was built with the same
 * options: users, keys, secrets, schedules, the call log, the rotation records, the clock and the
 * seeded random generators. The target then answers every request as the source would have, so a
 * test can bring a simulation to a state once (say, after two rotations) and start many cases
 * from copies of it instead of replaying the same calls before each.
 *
 * The copy is deep (nothing is shared with the source, which stays as it was) and keeps the
 * shape of the object graph: an object reached twice is copied once, and the simulation's parts
 * (clock, models, runner, random generators, roles) map to the target's own. It refuses what
 * it cannot copy faithfully rather than guessing: a function in the state (other than the
 * instrumentation both simulations carry, the registered rotation functions, which must be the
 * same ARNs, and the options both were built with, the same object in both), a pending promise,
 * or a weak collection.
 */
export const copySimulationState = (from: Simulation, to: Simulation): void => {
  const fromParts = partsOf(from);
  const toParts = partsOf(to);
  const counterparts = new Map<object, object>();
  for (const [name, part] of Object.entries(fromParts)) {
    const target = toParts[name];
    if (target === undefined || Object.getPrototypeOf(part) !== Object.getPrototypeOf(target)) {
      throw new Error(`copySimulationState: the target's ${name} is not of the source's kind`);
    }
    counterparts.set(part, target);
  }
  for (const [name, part] of Object.entries(fromParts)) {
    copyOwnState(name, part, toParts[name] as object, counterparts);
  }
};

/** The simulation's parts: objects both simulations have, each matched with its counterpart. */
const partsOf = (sim: Simulation): Record<string, object> => {
  const internals = sim as unknown as Record<string, object>;
  const parts: Record<string, object | undefined> = {
    simulation: sim,
    clock: sim.clock,
    iam: sim.iam,
    secretsManager: sim.secretsManager,
    scheduler: sim.scheduler,
    faults: sim.faults,
    lambdaRole: sim.lambdaRole,
    adminRole: sim.adminRole,
    random: internals.random,
    jitter: internals.jitter,
    runner: internals.runner,
    handler: internals.handler,
  };
  for (const [name, part] of Object.entries(parts)) {
    if (part === undefined) throw new Error(`copySimulationState: the simulation has no ${name}`);
  }
  return parts as Record<string, object>;
};

/** Replaces each own field of `to` with a copy of the same field of `from`. */
const copyOwnState = (
  name: string,
  from: object,
  to: object,
  counterparts: Map<object, object>,
): void => {
  const source = from as Record<PropertyKey, unknown>;
  const target = to as Record<PropertyKey, unknown>;
  for (const key of Reflect.ownKeys(from)) {
    const value = source[key];
    const where = `${name}.${String(key)}`;
    if (typeof value === 'function') {
      // Instrumentation (a scenario wraps dispatch and createAccessKey): the target has its own.
      if (typeof target[key] === 'function') continue;
      throw new Error(`copySimulationState: ${where} is a function the target does not have`);
    }
    if (value instanceof AsyncLocalStorage) continue;
    // The same object in both: the options both simulations were built with (which may hold
    // functions, such as a duplicate-invocation rule), not state either one made.
    if (typeof value === 'object' && value !== null && target[key] === value) continue;
    if (typeof value === 'object' && value !== null && counterparts.has(value)) {
      if (target[key] !== counterparts.get(value)) {
        throw new Error(`copySimulationState: ${where} does not point at the target's own part`);
      }
      continue;
    }
    if (name === 'runner' && key === 'functions') {
      // Closures over the function under test: the target registered its own, under the same ARNs.
      const fromArns = [...(value as Map<string, unknown>).keys()];
      const toArns = [...(target[key] as Map<string, unknown>).keys()];
      if (JSON.stringify(fromArns) !== JSON.stringify(toArns)) {
        throw new Error(
          `copySimulationState: rotation functions ${fromArns.join(', ')} in the source, ${toArns.join(', ')} in the target`,
        );
      }
      continue;
    }
    if (name === 'runner' && key === 'inFlight') {
      if ((value as Set<unknown>).size > 0) {
        throw new Error(
          'copySimulationState: the source has invocations in flight: settle it first',
        );
      }
      continue;
    }
    if (name === 'runner' && key === 'copiedTestValues') {
      // A WeakSet, filled only with the `copy-current` test version option: empty otherwise.
      const options = source.options as { testVersionValue?: string } | undefined;
      if (options?.testVersionValue === 'copy-current') {
        throw new Error('copySimulationState: cannot copy the test values of `copy-current`');
      }
      continue;
    }
    target[key] = copyValue(value, where, counterparts);
  }
};

/** A deep copy of `value`, copying each object once (see {@link copySimulationState}). */
const copyValue = (value: unknown, where: string, copies: Map<object, object>): unknown => {
  if (typeof value === 'function') {
    throw new Error(`copySimulationState: a function in the state at ${where}`);
  }
  if (typeof value !== 'object' || value === null) return value;
  const known = copies.get(value);
  if (known !== undefined) return known;
  if (
    value instanceof Promise ||
    value instanceof WeakSet ||
    value instanceof WeakMap ||
    value instanceof AsyncLocalStorage
  ) {
    throw new Error(`copySimulationState: cannot copy a ${value.constructor.name} at ${where}`);
  }
  if (value instanceof Map) {
    const copy = new Map<unknown, unknown>();
    copies.set(value, copy);
    for (const [key, entry] of value) {
      copy.set(copyValue(key, where, copies), copyValue(entry, `${where}[${String(key)}]`, copies));
    }
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set<unknown>();
    copies.set(value, copy);
    for (const entry of value) copy.add(copyValue(entry, where, copies));
    return copy;
  }
  if (value instanceof Date) {
    const copy = new Date(value.getTime());
    copies.set(value, copy);
    return copy;
  }
  if (ArrayBuffer.isView(value)) {
    if (!(value instanceof Uint8Array)) {
      throw new Error(`copySimulationState: cannot copy a ${value.constructor.name} at ${where}`);
    }
    const copy = Buffer.isBuffer(value) ? Buffer.from(value) : new Uint8Array(value);
    copies.set(value, copy);
    return copy;
  }
  const prototype = Object.getPrototypeOf(value) as object | null;
  const copy: object = Array.isArray(value) ? [] : (Object.create(prototype) as object);
  copies.set(value, copy);
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined) continue;
    if (!('value' in descriptor)) {
      throw new Error(`copySimulationState: an accessor at ${where}.${String(key)}`);
    }
    if (Array.isArray(value) && key === 'length') continue;
    Object.defineProperty(copy, key, {
      ...descriptor,
      value: copyValue(descriptor.value, `${where}.${String(key)}`, copies),
    });
  }
  if (Object.isFrozen(value)) Object.freeze(copy);
  return copy;
};
