import { addAbortSignal, Writable } from 'node:stream';
import {
  BatchCore,
  defineNeedDrain,
  type BatchStats,
  type WriteCallback,
  type WritevEntry,
} from './batch-core';
import { invalidArgType } from './errors';
import {
  checkBatchSettings,
  type BatchingWritableOptions,
  type Chunk,
  type ObjectBatchingWritableOptions,
} from './options';

/**
 * A `stream.Writable` that coalesces writes into batches and hands them to
 * `onBatch`, one at a time, as soon as it is free (the seed's `Buffer[T]`).
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
 * @typeParam T - the item type in object mode; `Buffer` (the default) for bytes.
 */
export class BatchingWritable<T = Buffer> extends Writable {
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
    const deliver = onBatch as (
      this: BatchingWritable<T>,
      batch: Buffer | T[],
    ) => void | PromiseLike<unknown>;
    this.#core = new BatchCore<Buffer | T[]>(
      settings,
      {
        stream: this,
        deliver: (batch) => deliver.call(this, batch),
        isReady: () => true,
      },
      options.defaultEncoding ?? 'utf8',
    );
    if (options.signal) addAbortSignal(options.signal, this);
  }

  /**
   * Writes `chunks` as one group: they enter back to back, with no other
   * write between them, and when their total is at most `size` they arrive in
   * one batch, never split (API.md 7). An empty group writes nothing and still
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
    defineNeedDrain(this.prototype, (stream) => (stream as BatchingWritable<unknown>).#core);
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
    super.end(chunk, encoding as BufferEncoding, callback);
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
