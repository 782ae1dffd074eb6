import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Calls registered by `mustCall`, checked by `checkMustCalls()` in `afterEach`. */
const expectations: { name: string; expected: number; actual: () => number }[] = [];

/**
 * Wraps `fn` so the spec fails unless it is called exactly `times` times by
 * the end of the test (Node's `common.mustCall`).
 */
export function mustCall<A extends unknown[], R>(fn: (...args: A) => R, times = 1): (...args: A) => R {
  let calls = 0;
  expectations.push({ name: fn.name || '<anonymous>', expected: times, actual: () => calls });
  return (...args: A) => {
    calls++;
    return fn(...args);
  };
}

/** Fails if a `mustCall` wrapper was not called as often as promised. */
export function checkMustCalls(): void {
  const failed = expectations.filter((e) => e.actual() !== e.expected);
  expectations.length = 0;
  if (failed.length > 0) {
    throw new Error(
      failed.map((e) => `${e.name}: expected ${e.expected} call(s), got ${e.actual()}`).join('\n'),
    );
  }
}

afterEach(checkMustCalls);

/** A promise and its resolve/reject, for consumers a spec settles by hand. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves after the current turn's immediates (the "next turn"). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves after every queued tick and microtask, but within the same turn. */
export function sameTurn(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** `end()` as a promise: resolves on 'finish', rejects on 'error'. */
export async function endOf(stream: Writable): Promise<void> {
  const finished = once(stream, 'finish');
  stream.end();
  await finished;
}

/** Writes with backpressure: waits for 'drain' when write() says so. */
export async function writeAll(stream: Writable, chunks: Iterable<unknown>): Promise<void> {
  for (const chunk of chunks) {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
}
