import { addAbortSignal, Writable } from 'node:stream';
import { BatchCore, type WriteCallback } from './batch-core';
import { installBatchFace, type BatchFace } from './face';
import { asError, invalidArgType, multipleCallback } from './errors';
import { destroyAfterOurs, finalAfterOurs } from './node-shims';
import {
  checkBatchSettings,
  checkConcurrency,
  type BatchConsumer,
  type BatchDone,
  type BatchingWritableOptions,
  type ByteMode,
  type Chunk,
  type ObjectBatchingWritableOptions,
  type WritableHookOptions,
} from './options';

// The class merges BatchFace, which installBatchFace defines on its prototype.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface BatchingWritable<T = ByteMode> extends BatchFace<T> {}

/**
 * A `stream.Writable` that coalesces writes into batches and hands them to
 * `onBatch`, one at a time, as soon as it is free (the Go library KarpelesLab/mwsr's `Buffer[T]`).
 *
 * Byte mode (the default) copies the bytes of many writes into one contiguous
 * `Buffer` of at most `size` bytes; object mode (`objectMode: true`) gathers
 * items into arrays of at most `size` (and of at most `maxBytes` bytes, as
 * `sizeOf` weighs them). Data written while `onBatch` is busy is handed over,
 * as one batch, the moment it settles; `concurrency` lets several calls run
 * at once.
 *
 * The write callback fires once the chunk has been copied into a batch (the
 * writer may then reuse it), not once it was delivered: `flush()`, `end()` and
 * `'finish'` tell when data reached `onBatch`.
 *
 * @typeParam T - the item type in object mode; {@link ByteMode} (the default) for bytes.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class BatchingWritable<T = ByteMode> extends Writable {
  /** The batching core; this class only maps Node's hooks onto it. */
  readonly #core: BatchCore<Buffer | T[]>;
  /**
   * True once every batch has settled at the end and a `final` of the
   * user's (the option, or a subclass's `_final`) runs: a `super._final()`
   * from it then has nothing left to do.
   */
  #delivered = false;

  /**
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for a missing or mistyped `size`,
   *   `onBatch`, `maxDelay`, `maxBytes`, `sizeOf` or `concurrency`.
   * @throws RangeError `ERR_OUT_OF_RANGE` for a `size`, `maxBytes` or
   *   `concurrency` that is not a positive safe integer, or a `maxDelay` that
   *   is negative, NaN or above 2147483647 (Infinity is allowed).
   * @throws TypeError `ERR_MISSING_ARGS` for `maxBytes` without `sizeOf`, or
   *   the other way round; `ERR_INVALID_ARG_VALUE` for either in byte mode.
   */
  constructor(options: BatchingWritableOptions<T>) {
    const settings = {
      ...checkBatchSettings(options),
      concurrency: checkConcurrency((options as { concurrency?: unknown }).concurrency),
    };
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
        canTakeBatch: () => true,
      },
      options.defaultEncoding ?? 'utf8',
    );
    this.#runUserHooksAfterOurs(options);
    if (options.signal) addAbortSignal(options.signal, this);
  }

  /**
   * A plain Writable installs the `final` and `destroy` options as its
   * `_final` and `_destroy`, and a subclass may override `_final`: in place
   * of ours, they would end or stop the stream behind the core's back (a
   * `_final` that does not call ours would let `'finish'` come before the
   * last batches were handed over, and drop them). They run after ours
   * instead: `final` once every batch has settled, as Node calls it once its
   * sink has taken every write (docs/node-parity.md).
   */
  #runUserHooksAfterOurs(options: WritableHookOptions): void {
    const ownFinal = BatchingWritable.prototype._final;
    const userFinal = typeof options.final === 'function' ? options.final : this._final;
    if (userFinal !== ownFinal) finalAfterOurs(this, ownFinal, userFinal);
    if (typeof options.destroy === 'function') destroyAfterOurs(this, options.destroy);
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

  /** Node's hook behind `end()`; not for users to call. @internal */
  override _final(callback: WriteCallback): void {
    if (this.#delivered) {
      callback();
      return;
    }
    this.#core.end((error) => {
      this.#delivered = !error;
      callback(error);
    });
  }

  static {
    installBatchFace(this.prototype, Writable.prototype, (stream: BatchingWritable<unknown>) => stream.#core);
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
