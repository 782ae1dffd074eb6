import type { Readable } from 'node:stream';
import { AsyncBatchStream as AsyncBatchStreamClass } from './async-batch-stream';
import { BatchingWritable as BatchingWritableClass } from './batching-writable';
import type {
  Batch,
  ByteAsyncBatchStreamOptions,
  ByteBatchingWritableOptions,
  ByteMode,
  Chunk,
  ObjectAsyncBatchStreamOptions,
  ObjectBatchingWritableOptions,
} from './options';

// The classes go out through typed constructors: a class's own constructor
// cannot pick its type argument from `objectMode`, so `new` could not tell
// byte mode from object mode with no item type given (README: TypeScript).
// At run time these are the classes themselves: `instanceof` and subclassing
// work as usual.

/**
 * A `stream.Writable` that coalesces writes into batches and hands them to
 * `onBatch`, one at a time, as soon as it is free.
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
export interface BatchingWritable<T = ByteMode> extends BatchingWritableClass<T> {
  /** As `Writable#end()`: hands the rest over first; `'finish'` after the last `onBatch` settled. */
  end(callback?: () => void): this;
  /** As `Writable#end()`, writing `chunk` last. */
  end(chunk: Chunk<T>, callback?: () => void): this;
  /** As `Writable#end()`, writing `chunk` last, in `encoding`. */
  end(chunk: Chunk<T>, encoding: BufferEncoding, callback?: () => void): this;
  /** As `write(chunk: never)`: lets the stream pass as a `NodeJS.WritableStream`. */
  end(chunk: never, encoding?: BufferEncoding | (() => void), callback?: () => void): this;
}

/** `BatchingWritable`'s constructor: byte mode unless `objectMode: true`. */
export interface BatchingWritableConstructor {
  /**
   * Byte mode: chunks are `Buffer`, `Uint8Array` or strings, and `onBatch`
   * gets one `Buffer` at a time.
   *
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for a missing or mistyped `size`,
   *   `onBatch`, `maxDelay` or `concurrency`.
   * @throws RangeError `ERR_OUT_OF_RANGE` for a `size` or `concurrency` that
   *   is not a positive safe integer, or a `maxDelay` that is negative, NaN or
   *   above 2147483647 (Infinity is allowed).
   * @throws TypeError `ERR_INVALID_ARG_VALUE` for `maxBytes` or `sizeOf`
   *   (object mode only).
   */
  new (options: ByteBatchingWritableOptions): BatchingWritable;
  /**
   * Object mode: items of type `T` (`unknown` unless given, or inferred from
   * `onBatch`), and `onBatch` gets a `T[]` at a time.
   *
   * @throws As in byte mode, and for a bad `maxBytes` or `sizeOf` as there for
   *   `size` and `onBatch`; TypeError `ERR_MISSING_ARGS` for one without the
   *   other.
   */
  new <T>(options: ObjectBatchingWritableOptions<T>): BatchingWritable<T>;
  /** For `instanceof`. */
  readonly prototype: BatchingWritable<unknown>;
}

/** `new BatchingWritable(options)`: the class, typed by {@link BatchingWritableConstructor}. */
export const BatchingWritable: BatchingWritableConstructor = BatchingWritableClass;

/**
 * A `stream.Transform` that coalesces writes into batches and pushes them
 * downstream as soon as downstream is ready for one.
 *
 * The readable side is always in object mode: each chunk read is one batch,
 * a `Buffer` (byte mode) or a `T[]` (object mode), never merged with the
 * next. `readableHighWaterMark` counts batches and defaults to 1, so the
 * slower downstream reads, the fuller the batches.
 *
 * @typeParam T - the item type in object mode; {@link ByteMode} (the default) for bytes.
 */
export interface AsyncBatchStream<T = ByteMode> extends AsyncBatchStreamClass<T> {
  /** `for await (const batch of stream)`: one batch per step. */
  [Symbol.asyncIterator](): BatchIterator<Batch<T>>;
  /**
   * `await using` support: ends the stream and waits until everything written
   * has been pushed downstream. (Node's default would destroy it, losing pending data.)
   */
  [Symbol.asyncDispose](): Promise<void>;
  /** As `Writable#end()`: pushes the last partial batch, then ends the readable side. */
  end(callback?: () => void): this;
  /** As `Writable#end()`, writing `chunk` last. */
  end(chunk: Chunk<T>, callback?: () => void): this;
  /** As `Writable#end()`, writing `chunk` last, in `encoding`. */
  end(chunk: Chunk<T>, encoding: BufferEncoding, callback?: () => void): this;
  /** As `write(chunk: never)`: lets the stream pass as a `NodeJS.WritableStream`. */
  end(chunk: never, encoding?: BufferEncoding | (() => void), callback?: () => void): this;
}

/** The iterator `Readable#[Symbol.asyncIterator]()` returns, as the installed `@types/node` declares it. */
export type ReadableIterator = ReturnType<Readable[typeof Symbol.asyncIterator]>;

/**
 * What `for await` steps through over an `AsyncBatchStream`: Node's own
 * iterator, each step one batch of type `B`.
 */
export interface BatchIterator<B> extends ReadableIterator {
  /** The next batch, or `done` once the readable side has ended. */
  next(...args: [] | [unknown]): Promise<IteratorResult<B, undefined>>;
  /** Stops early (`break` in `for await`): destroys the stream, as Node's iterator does. */
  return?(value?: unknown): Promise<IteratorResult<B, undefined>>;
  /** Stops with an error: destroys the stream with it. */
  throw?(error?: unknown): Promise<IteratorResult<B, undefined>>;
  /** The iterator itself. */
  [Symbol.asyncIterator](): BatchIterator<B>;
}

/** `AsyncBatchStream`'s constructor: byte mode unless `objectMode: true`. */
export interface AsyncBatchStreamConstructor {
  /**
   * Byte mode: bytes in, coalesced `Buffer`s out.
   *
   * @throws TypeError `ERR_INVALID_ARG_TYPE` / RangeError `ERR_OUT_OF_RANGE`
   *   for a bad `size` or `maxDelay`, as `BatchingWritable`; TypeError
   *   `ERR_INVALID_ARG_VALUE` for any `concurrency`, `maxBytes` or `sizeOf`.
   */
  new (options: ByteAsyncBatchStreamOptions): AsyncBatchStream;
  /**
   * Object mode: items of type `T` (`unknown` unless given, or inferred from
   * `sizeOf`) in, `T[]` out.
   *
   * @throws As in byte mode for `size`, `maxDelay` and `concurrency`; for a
   *   bad `maxBytes` or `sizeOf`, as `BatchingWritable` in object mode.
   */
  new <T>(options: ObjectAsyncBatchStreamOptions<T>): AsyncBatchStream<T>;
  /** For `instanceof`. */
  readonly prototype: AsyncBatchStream<unknown>;
}

/** `new AsyncBatchStream(options)`: the class, typed by {@link AsyncBatchStreamConstructor}. */
export const AsyncBatchStream: AsyncBatchStreamConstructor = AsyncBatchStreamClass;

export type {
  AsyncBatchStreamOptions,
  Batch,
  BatchConsumer,
  BatchDone,
  BatchingOptions,
  BatchingWritableOptions,
  ByteAsyncBatchStreamOptions,
  ByteBatchingWritableOptions,
  ByteChunk,
  ByteMode,
  Chunk,
  ItemWeightOptions,
  ObjectAsyncBatchStreamOptions,
  ObjectBatchingWritableOptions,
  WritableHookOptions,
} from './options';
export type { CodedError } from './errors';
export type { BatchStats, WriteCallback } from './batch-core';
export { WorkerChannel } from './worker/channel';
export type { WorkerChannelOptions, WriterEndInfo } from './worker/channel';
export { WorkerWritable } from './worker/writable';
export type { WorkerWritableOptions, WorkerWriterHandle } from './worker/writable';
