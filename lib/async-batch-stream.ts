import { addAbortSignal, Transform, type TransformCallback } from 'node:stream';
import { BatchCore, type WriteCallback } from './batch-core';
import { installBatchFace, type BatchFace } from './face';
import {
  checkBatchSettings,
  refuseConcurrency,
  type AsyncBatchStreamOptions,
  type ByteMode,
  type Chunk,
} from './options';

// The class merges BatchFace, which installBatchFace defines on its prototype.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AsyncBatchStream<T = ByteMode> extends BatchFace<T> {}

/**
 * A `stream.Transform` that coalesces writes into batches and pushes them
 * downstream as soon as downstream is ready for one (the Go library
 * KarpelesLab/mwsr's `AsyncBuffer[T]`).
 *
 * The readable side is always in object mode: each chunk read is one batch,
 * a `Buffer` (byte mode) or a `T[]` (object mode), never merged with the
 * next. `readableHighWaterMark` counts batches and defaults to 1, so the
 * slower downstream reads, the fuller the batches.
 *
 * @typeParam T - the item type in object mode; {@link ByteMode} (the default) for bytes.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class AsyncBatchStream<T = ByteMode> extends Transform {
  /** The batching core; this class only maps Node's hooks onto it. */
  readonly #core: BatchCore<Buffer | T[]>;
  /** True while the readable side holds `readableHighWaterMark` batches. */
  #downstreamFull = false;

  /**
   * @throws TypeError `ERR_INVALID_ARG_TYPE` / RangeError `ERR_OUT_OF_RANGE`
   *   for a bad `size`, `maxDelay`, `maxBytes` or `sizeOf`, and
   *   `ERR_MISSING_ARGS` / `ERR_INVALID_ARG_VALUE` for `maxBytes` and `sizeOf`,
   *   as `BatchingWritable`; `ERR_INVALID_ARG_VALUE` for any `concurrency`.
   */
  constructor(options: AsyncBatchStreamOptions<never>) {
    const settings = checkBatchSettings(options);
    refuseConcurrency((options as { concurrency?: unknown }).concurrency);
    const { highWaterMark, writableHighWaterMark, readableHighWaterMark } = options;
    super({
      ...options,
      // Node's Duplex applies `highWaterMark` to both sides; ours counts
      // batches on the readable side, so it sets the writable side only.
      highWaterMark: undefined,
      writableHighWaterMark: writableHighWaterMark ?? highWaterMark,
      readableHighWaterMark: readableHighWaterMark ?? 1,
      readableObjectMode: true,
      writableObjectMode: settings.objectMode,
      objectMode: undefined,
      decodeStrings: true,
      transform: undefined,
      flush: undefined,
      final: undefined,
      read: undefined,
      write: undefined,
      writev: undefined,
      destroy: undefined,
      // Added below, once the core exists: a signal aborted already destroys
      // the stream at once, and Node would do it inside super().
      signal: undefined,
    });
    this.#core = new BatchCore<Buffer | T[]>(
      settings,
      {
        stream: this,
        deliver: (batch) => {
          this.#downstreamFull = !this.push(batch);
        },
        // An errored readable side is never read again (no _read): what it
        // holds counts as taken, and it drops what is pushed from now on (as
        // Node's own Transform does), so the consumer is free.
        canTakeBatch: () => !this.#downstreamFull || this.errored !== null,
      },
      options.defaultEncoding ?? 'utf8',
    );
    if (options.signal) addAbortSignal(options.signal, this);
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
      this.#core.nodeWriteResult(super.write(chunk, encoding as BufferEncoding, callback))
    );
  }

  /** Transform's hook, unused: `_write` and `_writev` take every write. @internal */
  /* c8 ignore start: unreachable while _write is ours; kept so the class
     honours Transform's contract if Node ever calls it */
  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#core.write(chunk, callback);
  }
  /* c8 ignore stop */

  /**
   * Transform's `_final` calls this at `end()`; it then ends the readable side.
   * Node's hook behind `end()`; not for users to call.
   * @internal
   */
  override _flush(callback: TransformCallback): void {
    this.#core.end(callback);
  }

  /** Node's hook behind `read()`; not for users to call. @internal */
  override _read(): void {
    // Readable calls _read often (on every read() below the high-water mark);
    // only a full readable side made the core wait, so only then pump. A
    // pending batch otherwise goes out on the core's own schedule (docs/semantics.md 5).
    if (!this.#downstreamFull) return;
    this.#downstreamFull = false;
    this.#core.onCanTakeBatch();
  }

  static {
    installBatchFace(
      this.prototype,
      Transform.prototype,
      (stream: AsyncBatchStream<unknown>) => stream.#core,
    );
  }
}
