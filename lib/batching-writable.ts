import { addAbortSignal, Writable } from 'node:stream';
import { BatchCore, type BatchStats, type WriteCallback, type WritevEntry } from './batch-core';
import { defineNeedDrain } from './node-shims';
import { asError, invalidArgType, multipleCallback } from './errors';
import {
  checkBatchSettings,
  type BatchConsumer,
  type BatchDone,
  type BatchingWritableOptions,
  type ByteMode,
  type Chunk,
  type ObjectBatchingWritableOptions,
} from './options';

/**
 * A `stream.Writable` that coalesces writes into batches and hands them to
 * `onBatch`, one at a time, as soon as it is free (the Go library KarpelesLab/mwsr's `Buffer[T]`).
 *
 * Byte mode (the default) copies the bytes of many writes into one contiguous
 * `Buffer` of at most `size` bytes; object mode (`objectMode: true`) gathers
 * items into arrays of at most `size`. Data written while `onBatch` is busy is
 * handed over, as one batch, the moment it settles.
 *
 * The write callback fires once the chunk has been copied into a batch (the
 * writer may then reuse it), not once it was delivered: `flush()`, `end()` and
 * `'finish'` tell when data reached `onBatch`.
 *
 * @typeParam T - the item type in object mode; {@link ByteMode} (the default) for bytes.
 */
export class BatchingWritable<T = ByteMode> extends Writable {
  /** The batching core; this class only maps Node's hooks onto it. */
  readonly #core: BatchCore<Buffer | T[]>;

  /**
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for a missing or mistyped `size`,
   *   `onBatch` or `maxDelay`.
   * @throws RangeError `ERR_OUT_OF_RANGE` for a `size` that is not a positive
   *   safe integer, or a `maxDelay` that is negative, NaN or above 2147483647
   *   (Infinity is allowed).
   */
  constructor(options: BatchingWritableOptions<T>) {
    const settings = checkBatchSettings(options);
    const onBatch = (options as ObjectBatchingWritableOptions<T>).onBatch as unknown;
    if (typeof onBatch !== 'function') throw invalidArgType('options.onBatch', 'of type function', onBatch);
    super({
      ...options,
      objectMode: settings.objectMode,
      decodeStrings: true,
      // Our hooks are methods; options must not replace them.
      write: undefined,
      writev: undefined,
      final: undefined,
      destroy: undefined,
      // Added below, once the core exists: a signal aborted already destroys
      // the stream at once, and Node would do it inside super().
      signal: undefined,
    });
    const consumer = onBatch as BatchConsumer<Buffer | T[]>;
    // Two declared parameters: a Node-style consumer that calls done() (README: A Node-style onBatch).
    const takesDone = consumer.length >= 2;
    // One declared parameter: it settles by returning, and is given no done.
    const settlesByReturn = consumer as (batch: Buffer | T[]) => void | PromiseLike<unknown>;
    this.#core = new BatchCore<Buffer | T[]>(
      settings,
      {
        stream: this,
        deliver: takesDone
          ? (batch) => handOverWithDone(this, consumer, batch)
          : (batch) => settlesByReturn.call(this, batch),
        isReady: () => true,
      },
      options.defaultEncoding ?? 'utf8',
    );
    if (options.signal) addAbortSignal(options.signal, this);
  }

  /**
   * Writes `chunks` as one group: they enter back to back, with no other
   * write between them, and when their total is at most `size` they arrive in
   * one batch, never split (docs/semantics.md 7). An empty group writes nothing and still
   * calls `callback`.
   *
   * @returns false when the caller should wait for `'drain'`, as `write()`.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` if `chunks` is not an array, or
   *   for a chunk `write()` would refuse (then nothing of the group is written).
   */
  writeV(chunks: readonly Chunk<T>[], callback?: (error?: Error | null) => void): boolean {
    return this.#core.writeV(chunks, callback);
  }

  /**
   * Hands what is pending over now, ignoring `maxDelay`, and resolves once
   * `onBatch` has settled for everything written before the call. With nothing
   * pending it resolves without calling `onBatch`.
   *
   * @throws (rejects) with the stream's error if `onBatch` failed or the stream
   *   was destroyed meanwhile, or `ERR_STREAM_DESTROYED`.
   */
  flush(): Promise<void> {
    return this.#core.flush();
  }

  /**
   * Resolves when `write()` can take data without the caller waiting: at once,
   * or on the next `'drain'`. All callers share one promise per drain cycle,
   * so many producers can `if (!s.write(x)) await s.ready()` without adding a
   * listener each.
   *
   * @throws (rejects) if the stream is destroyed, or ends, before it drains.
   */
  ready(): Promise<void> {
    return this.#core.ready();
  }

  /** Batching figures, always on: batches, units, largest batch, pending units, consumer busy time. */
  get stats(): BatchStats {
    return this.#core.stats;
  }

  /**
   * `await using` support: ends the stream and waits until everything written
   * has been handed over. (Node's default would destroy it, losing pending data.)
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#core.dispose();
  }

  /**
   * As `Writable#write()`. While nothing waits in Node's queue the chunk is
   * copied into the open batch directly; otherwise it takes Node's own path,
   * with its checks and errors. Returns false once the stream holds `size` +
   * `highWaterMark` not yet handed over: wait for `'drain'`.
   */
  override write(chunk: Chunk<T>, callback?: WriteCallback): boolean;
  /** As above; `encoding` names a string chunk's encoding (default: `defaultEncoding`). */
  override write(chunk: Chunk<T>, encoding: BufferEncoding, callback?: WriteCallback): boolean;
  /**
   * No value has type `never`: this overload only lets an object-mode stream
   * pass where Node's typings ask for a `NodeJS.WritableStream`, such as
   * `pipeline()`'s destination.
   */
  override write(chunk: never, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean;
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    // Node's write() sorts out its own (chunk, callback) overload.
    return (
      this.#core.tryWrite(chunk, encoding, callback) ??
      this.#core.nodeWrote(super.write(chunk, encoding as BufferEncoding, callback))
    );
  }

  static {
    // writableNeedDrain follows the core's backpressure too.
    defineNeedDrain(this.prototype, (stream: BatchingWritable<unknown>) => stream.#core.needDrain);
  }

  /** As `Writable#cork()`. */
  override cork(): void {
    super.cork();
    this.#core.corked(1);
  }

  /** As `Writable#uncork()`. */
  override uncork(): void {
    // Node hands its queue over first: the fast path waits until it has.
    super.uncork();
    this.#core.corked(-1);
  }

  /** As `Writable#end()`. */
  override end(chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    const [nodeChunk, nodeEncoding, nodeCallback] = this.#core.endArguments(chunk, encoding, callback);
    super.end(nodeChunk, nodeEncoding as BufferEncoding, nodeCallback as () => void);
    this.#core.endCalled();
    return this;
  }

  /**
   * As `Writable#destroy()`. The callbacks of writes held for backpressure
   * are queued first, so they come before those of writes Node still queues
   * (write order).
   */
  override destroy(error?: Error): this {
    if (!this.destroyed) this.#core.destroy(error ?? null);
    return super.destroy(error);
  }

  override setDefaultEncoding(encoding: BufferEncoding): this {
    super.setDefaultEncoding(encoding); // validates, throws ERR_UNKNOWN_ENCODING
    this.#core.defaultEncoding = encoding;
    return this;
  }

  /** Node's hook behind `write()`; not for users to call. @internal */
  override _write(chunk: unknown, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.#core.write(chunk, callback);
  }

  /** Node's hook behind `write()` and `writeV()`; not for users to call. @internal */
  override _writev(entries: WritevEntry[], callback: WriteCallback): void {
    this.#core.writev(entries, callback);
  }

  /** Node's hook behind `end()`; not for users to call. @internal */
  override _final(callback: WriteCallback): void {
    this.#core.end(callback);
  }

  /** Node's hook behind `destroy()`; not for users to call. @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#core.destroy(error);
    callback(error);
  }
}

/**
 * Hands `batch` to a two-parameter `onBatch`, Node-style: the batch is through
 * once it calls `done()`; `done(error)` fails it with `error`, as does a throw
 * or a rejection before `done`. After `done`, a throw, a rejection or a second
 * call destroys the stream (the second call with Node's
 * `ERR_MULTIPLE_CALLBACK`, as a `Writable` whose callback runs twice).
 */
function handOverWithDone<B>(stream: Writable, onBatch: BatchConsumer<B>, batch: B): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let called = false;
    const fail = (reason: unknown): void => {
      if (called) {
        stream.destroy(asError(reason));
        return;
      }
      called = true;
      reject(asError(reason));
    };
    const done: BatchDone = (error) => {
      if (called) {
        stream.destroy(multipleCallback());
        return;
      }
      called = true;
      // Node's write callbacks fail on any truthy error.
      if (error) reject(error);
      else resolve();
    };
    try {
      const result: unknown = onBatch.call(stream, batch, done);
      // An async consumer's rejection must not escape unhandled; Promise.resolve
      // also turns a throwing `then` getter into a rejection.
      if (result !== undefined) Promise.resolve(result).then(undefined, fail);
    } catch (error) {
      fail(error);
    }
  });
}
