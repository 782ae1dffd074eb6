import { addAbortSignal, Transform, type TransformCallback, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { BatchCore, type WriteCallback } from './batch-core';
import { installBatchFace, type BatchFace } from './face';
import { destroyAfterOurs, type UserDestroy } from './node-shims';
import {
  checkBatchSettings,
  refuseConcurrency,
  type AsyncBatchStreamOptions,
  type ByteMode,
  type Chunk,
} from './options';

/**
 * A pipe destination whose writes of our batches are followed: while it
 * still holds one, downstream counts as busy (docs/semantics.md 15).
 */
interface PipeWatch {
  /** Our 'data' listener that writes to it, in place of Node's. */
  readonly onData: (batch: unknown) => void;
  /** Batches written to it whose write has not completed. */
  pending: number;
  /** False once unpiped: late write callbacks no longer count. */
  live: boolean;
}

/**
 * True when Node's own pipe would write `batch` to `destination` and get
 * true back (so it would not pause): a live destination with room below its
 * highWaterMark. Then writing it with a callback is all Node's pipe does.
 */
function writeWouldPass(destination: Writable, batch: unknown): boolean {
  if (destination.writableEnded || destination.destroyed || destination.errored !== null) return false;
  const units = destination.writableObjectMode ? 1 : (batch as Buffer).length;
  return destination.writableLength + units < destination.writableHighWaterMark;
}

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
  /** Pipe destinations followed (see PipeWatch). */
  #pipeWatches: PipeWatch[] = [];
  /** Batches pipe destinations still hold, over all of them: downstream is busy while above 0. */
  #pipePending = 0;
  /**
   * Byte mode after `setEncoding()`: decodes each batch before it is pushed,
   * so a batch ending inside a character pushes nothing until the rest comes
   * (Node's object-mode decoding would push an empty string). Null otherwise.
   */
  #decoder: StringDecoder | null = null;

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
          if (this.#decoder === null) {
            this.#downstreamFull = !this.push(batch);
            return;
          }
          const text = this.#decoder.write(batch as Buffer);
          if (text.length > 0) this.#downstreamFull = !this.push(text);
        },
        // An errored readable side is never read again (no _read): what it
        // holds counts as taken, and it drops what is pushed from now on (as
        // Node's own Transform does), so the consumer is free.
        canTakeBatch: () => (!this.#downstreamFull && this.#pipePending === 0) || this.errored !== null,
      },
      options.defaultEncoding ?? 'utf8',
    );
    // Node would install it as our _destroy: it runs after ours instead.
    if (typeof options.destroy === 'function') destroyAfterOurs(this, options.destroy as UserDestroy);
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
    if (this.#decoder === null) {
      this.#core.end(callback);
      return;
    }
    // A character cut short at the end comes out as Node's decoder ends it.
    // (Transform drops it if the end failed; the core's never does: a
    // failure destroys the stream instead.)
    const decoder = this.#decoder;
    this.#core.end((error) => {
      const rest = decoder.end();
      callback(error, rest.length > 0 ? rest : undefined);
    });
  }

  /**
   * As `Readable#setEncoding()`: the readable side then yields strings. In
   * byte mode each batch is decoded as a byte `Transform` decodes its
   * chunks: a character split across batches comes out whole, and no read
   * is an empty string (batches already buffered at the call are decoded
   * by Node, as is all that follows them). In object mode Node's own
   * decoding meets each batch, an array, and fails the stream
   * (docs/node-parity.md).
   *
   * @throws TypeError `ERR_UNKNOWN_ENCODING` for an encoding Node does not know.
   */
  override setEncoding(encoding: BufferEncoding): this {
    // Batches already buffered are decoded by Node's decoder, which may then
    // hold the start of a character: it decodes the rest as well.
    const buffered = this.readableLength > 0;
    super.setEncoding(encoding);
    this.#decoder = this.writableObjectMode || buffered ? null : new StringDecoder(encoding);
    return this;
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

  /**
   * As `Readable#pipe()`, with Node's own plumbing (ends, errors, unpipe,
   * 'drain'). Batches the destination still holds keep downstream busy, so
   * what is written meanwhile gathers into the next batch instead of
   * queueing in the destination as small batches (docs/semantics.md 15).
   * Node's pipe writes without a callback, and a Writable tells nothing of a
   * completed write but 'drain' after a false: so for a destination with
   * Writable's own write(), the batches Node would write with true back
   * are written here, with a callback; the rest take Node's path unchanged.
   * `stream.pipeline()` pipes through this too.
   */
  override pipe<D extends NodeJS.WritableStream>(destination: D, options?: { end?: boolean }): D {
    const before = this.rawListeners('data');
    const result = super.pipe(destination, options);
    const nodeOnData = this.rawListeners('data').find((listener) => !before.includes(listener));
    if (
      nodeOnData !== undefined &&
      destination instanceof Writable &&
      destination.write === Writable.prototype.write
    ) {
      this.#watchPipe(destination, nodeOnData as (batch: unknown) => void);
    }
    return result;
  }

  /** As `Readable#unpipe()`; batches an unpiped destination holds no longer keep downstream busy. */
  override unpipe(destination?: NodeJS.WritableStream): this {
    super.unpipe(destination);
    if (this.#pipeWatches.length === 0) return this;
    const listeners = this.rawListeners('data');
    const freed = this.#pipePending > 0;
    this.#pipeWatches = this.#pipeWatches.filter((watch) => {
      if (listeners.includes(watch.onData)) return true;
      watch.live = false;
      this.#pipePending -= watch.pending;
      return false;
    });
    // On a tick of its own: no batch goes out inside unpipe().
    if (freed && this.#pipePending === 0) process.nextTick(this.#onPipeFree);
    return this;
  }

  /** Downstream may take a batch again: every followed write completed. */
  readonly #onPipeFree = (): void => {
    if (this.#pipePending === 0) this.#core.onCanTakeBatch();
  };

  /**
   * Puts a 'data' listener in place of Node's pipe one (`nodeOnData`): it
   * writes as Node's does, with a callback that counts the write done.
   * Node's cleanup removes it by Node's listener (EventEmitter matches
   * `listener.listener`, as for once()).
   */
  #watchPipe(destination: Writable, nodeOnData: (batch: unknown) => void): void {
    const onWritten = (): void => {
      if (!watch.live) return;
      watch.pending--;
      if (--this.#pipePending === 0) this.#core.onCanTakeBatch();
    };
    const onData = (batch: unknown): void => {
      if (!writeWouldPass(destination, batch)) {
        nodeOnData(batch); // Node writes it and pauses on false, until 'drain'
        return;
      }
      destination.write(batch, onWritten);
      watch.pending++;
      this.#pipePending++;
    };
    const watch: PipeWatch = { onData, pending: 0, live: true };
    Object.defineProperty(onData, 'listener', { value: nodeOnData });
    this.removeListener('data', nodeOnData);
    this.on('data', onData);
    this.#pipeWatches.push(watch);
  }

  static {
    installBatchFace(
      this.prototype,
      Transform.prototype,
      (stream: AsyncBatchStream<unknown>) => stream.#core,
    );
  }
}
