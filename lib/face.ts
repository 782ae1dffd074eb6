import type { Writable } from 'node:stream';
import type { BatchCore, BatchStats, WriteCallback, WritevEntry } from './batch-core';
import { defineNeedDrain } from './node-shims';
import type { Chunk } from './options';

/**
 * What `BatchingWritable` and `AsyncBatchStream` add to a writable stream,
 * written and documented once: both faces merge this interface into their
 * class, and one installer defines it on both prototypes.
 *
 * @typeParam T - the item type in object mode; `ByteMode` (the default) for bytes.
 */
export interface BatchFace<T> {
  /**
   * Writes `chunks` as one group: they enter back to back, with no other
   * write between them, and when their total is at most `size` they arrive in
   * one batch, never split (docs/semantics.md 7). An empty group writes
   * nothing and still calls `callback`.
   *
   * @returns false when the caller should wait for `'drain'`, as `write()`.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` if `chunks` is not an array; for
   *   a chunk `write()` would refuse, what `write()` throws (`ERR_INVALID_ARG_TYPE`,
   *   or `ERR_STREAM_NULL_VALUES` for `null`), and nothing of the group is written.
   */
  writeV(chunks: readonly Chunk<T>[], callback?: (error?: Error | null) => void): boolean;

  /**
   * Hands what is pending over now, ignoring `maxDelay`, and resolves once
   * everything written before the call has been handed over: `onBatch` has
   * settled for it (BatchingWritable), or it was pushed downstream in a batch
   * (AsyncBatchStream). With nothing pending it resolves at once.
   *
   * @throws (rejects) with the stream's error if `onBatch` failed or the stream
   *   was destroyed meanwhile, or `ERR_STREAM_DESTROYED`.
   */
  flush(): Promise<void>;

  /**
   * Resolves when `write()` can take data without the caller waiting: at once,
   * or on the next `'drain'`. All callers share one promise per drain cycle,
   * so many producers can `if (!s.write(x)) await s.ready()` without adding a
   * listener each.
   *
   * @throws (rejects) if the stream is destroyed, or ends, before it drains.
   */
  ready(): Promise<void>;

  /**
   * Batching figures, always on: batches, units, largest batch, pending units,
   * consumer busy time, calls in flight, and bytes as `sizeOf` weighs them.
   */
  readonly stats: BatchStats;

  /**
   * `await using` support: ends the stream and waits until everything written
   * has been handed over. (Node's default would destroy it, losing pending data.)
   */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The Writable methods and hooks both faces override, in one place: each
 * calls Node's own (`base`'s) and tells the core. Node's `_final` (ending)
 * and the readable side stay with each face. So does `write()`: its
 * overloads replace Writable's, which an interface merged into the class
 * cannot do (TS2320), and as the hot path it calls `super.write` with no
 * call in between.
 * @internal
 */
export const SHARED_HOOKS = [
  'cork',
  'uncork',
  'end',
  'destroy',
  'setDefaultEncoding',
  'emit',
  'writableNeedDrain',
  '_write',
  '_writev',
  '_destroy',
  'writeV',
  'flush',
  'ready',
  'stats',
] as const;

/**
 * Defines {@link BatchFace} and the shared hooks (see SHARED_HOOKS) on a
 * face's prototype. `base` is the prototype the face extends (its `super`),
 * `coreOf` reads a stream's core.
 * @internal
 */
export function installBatchFace<S extends Writable>(
  prototype: S,
  base: Writable,
  coreOf: (stream: S) => BatchCore<unknown>,
): void {
  const { cork, uncork, end, destroy, setDefaultEncoding, emit } = base;
  const methods = {
    writeV(this: S, chunks: readonly unknown[], callback?: WriteCallback): boolean {
      return coreOf(this).writeV(chunks, callback);
    },
    flush(this: S): Promise<void> {
      return coreOf(this).flush();
    },
    ready(this: S): Promise<void> {
      return coreOf(this).ready();
    },
    [Symbol.asyncDispose](this: S): Promise<void> {
      return coreOf(this).dispose();
    },
    cork(this: S): void {
      cork.call(this);
      coreOf(this).corked(1);
    },
    uncork(this: S): void {
      // Node hands its queue over first: the fast path waits until it has.
      uncork.call(this);
      coreOf(this).corked(-1);
    },
    end(this: S, chunk?: unknown, encoding?: unknown, callback?: unknown): S {
      const core = coreOf(this);
      const [nodeChunk, nodeEncoding, nodeCallback] = core.endArguments(chunk, encoding, callback);
      end.call(this, nodeChunk, nodeEncoding as BufferEncoding, nodeCallback as () => void);
      core.endCalled();
      return this;
    },
    /**
     * The callbacks of writes held for backpressure are queued first, so
     * they come before those of writes Node still queues (write order).
     * Node's destroy() also takes a callback, called once `_destroy` is
     * done (undocumented, but a user may pass one): passed on.
     */
    destroy(this: S, error?: Error, callback?: (error?: Error | null) => void): S {
      if (!this.destroyed) coreOf(this).destroy(error ?? null);
      (destroy as (error?: Error, callback?: (error?: Error | null) => void) => S).call(
        this,
        error,
        callback,
      );
      return this;
    },
    /**
     * A 'drain' Node emits while write() would still return false (its own
     * queue is empty, the batches are not) is dropped: the one owed comes
     * once write() would return true, one per false period.
     */
    emit(this: S, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'drain' && !coreOf(this).drainPasses()) return false;
      return emit.call(this, event, ...args);
    },
    setDefaultEncoding(this: S, encoding: BufferEncoding): S {
      setDefaultEncoding.call(this, encoding); // validates, throws ERR_UNKNOWN_ENCODING
      coreOf(this).defaultEncoding = encoding;
      return this;
    },
    _write(this: S, chunk: unknown, _encoding: BufferEncoding, callback: WriteCallback): void {
      coreOf(this).write(chunk, callback);
    },
    _writev(this: S, entries: WritevEntry[], callback: WriteCallback): void {
      coreOf(this).writev(entries, callback);
    },
    /** 'error' and 'close' wait for onBatch calls still running (concurrency > 1). */
    _destroy(this: S, error: Error | null, callback: (error?: Error | null) => void): void {
      const core = coreOf(this);
      core.destroy(error);
      core.afterCalls(() => callback(error));
    },
  };
  for (const key of Reflect.ownKeys(methods)) {
    Object.defineProperty(prototype, key, {
      configurable: true,
      enumerable: false,
      writable: true,
      value: methods[key as keyof typeof methods],
    });
  }
  Object.defineProperty(prototype, 'stats', {
    configurable: true,
    enumerable: false,
    get(this: S): BatchStats {
      return coreOf(this).stats;
    },
  });
  // writableNeedDrain follows the core's backpressure too.
  defineNeedDrain(prototype, (stream) => coreOf(stream).needDrain);
}
