import type { TransformOptions, Writable, WritableOptions } from 'node:stream';
import { invalidArgType, invalidArgValue, missingArgs, outOfRange } from './errors';

/** What one `write()` takes in byte mode. */
export type ByteChunk = Buffer | Uint8Array | string;

declare const byteMode: unique symbol;

/**
 * The type argument of a stream in byte mode, and the default: a bare
 * `BatchingWritable` or `AsyncBatchStream` is a byte stream. No value has this
 * type; it only tells byte mode apart from object mode with `Buffer` items.
 */
export interface ByteMode {
  /** Brand only: never present at run time. */
  readonly [byteMode]: true;
}

// `any` extends ByteMode too, but is an item type (only object mode takes
// one); unlike ByteMode it also extends string, which tells them apart. (Not
// `0 extends 1 & T`: TypeScript would then measure T as invariant, and a
// BatchingWritable<Row> would no longer pass as a BatchingWritable<unknown>.)

/**
 * What `write()`, `writeV()` and `end()` take from a stream of item type `T`:
 * a {@link ByteChunk} in byte mode ({@link ByteMode}); otherwise a `T`, never
 * `null` (Node's `ERR_STREAM_NULL_VALUES`).
 */
export type Chunk<T> = [T] extends [ByteMode]
  ? [T] extends [string]
    ? T
    : ByteChunk
  : T & (NonNullable<unknown> | undefined);

/** What is handed on at once: one `Buffer` in byte mode, an array of items otherwise. */
export type Batch<T> = [T] extends [ByteMode] ? ([T] extends [string] ? T[] : Buffer) : T[];

/**
 * The `done` a two-parameter `onBatch` receives: call it once, when the batch
 * is through; `done(error)` destroys the stream with `error`.
 */
export type BatchDone = (error?: Error | null) => void;

/**
 * Takes one batch. Either return (a promise, or nothing), or declare a second
 * parameter and call `done()` Node-style: the next batch waits until the
 * returned promise settles, or until `done` is called.
 */
export type BatchConsumer<B> = (batch: B, done: BatchDone) => void | PromiseLike<unknown>;

/** The options both classes share, on top of Node's own stream options. */
export interface BatchingOptions {
  /**
   * The most a batch holds: bytes in byte mode, items in object mode. A
   * positive safe integer. In byte mode a single chunk of `size` bytes or more
   * is handed over alone, whole.
   */
  size: number;
  /**
   * Milliseconds a batch that is not full may wait for more data, counted from
   * its first write. `0` (the default) hands data over in the same or the next
   * event-loop turn; `Infinity` hands over only full batches, `flush()` and
   * `end()`. At most 2147483647 when finite (Node's timer limit).
   */
  maxDelay?: number | undefined;
}

/**
 * Which Node options we set ourselves, so the user cannot. (`onBatch` is the
 * sink: `write` and `writev` have no place. `final`, `destroy` and
 * `construct` stay the user's, as on a plain Writable.)
 */
type OwnedWritableOptions = 'write' | 'writev' | 'objectMode' | 'decodeStrings';

/**
 * Node's `final` and `destroy` options, as `BatchingWritable` runs them:
 * after its own steps, so that they see every batch through (or the stream
 * stopped). A subclass's `_final` runs as `final` does.
 */
export interface WritableHookOptions {
  /**
   * As on a plain `Writable`: called at the end, before `'finish'`, which
   * waits for `callback`; `callback(error)` destroys the stream with `error`.
   * It runs once every batch has settled, as Node calls it once its sink has
   * taken every write.
   */
  final?(this: Writable, callback: (error?: Error | null) => void): void;
  /**
   * As on a plain `Writable`: called when the stream is destroyed, with the
   * error, if any; what it passes to `callback` is the stream's error. It
   * runs once the stream has stopped (and, with `concurrency` > 1, once the
   * `onBatch` calls still running have settled).
   */
  destroy?(this: Writable, error: Error | null, callback: (error?: Error | null) => void): void;
}

/** `BatchingWritable` in byte mode: `onBatch` receives one `Buffer`. */
export interface ByteBatchingWritableOptions
  extends
    BatchingOptions,
    WritableHookOptions,
    Omit<WritableOptions, OwnedWritableOptions | keyof WritableHookOptions> {
  /**
   * `false` or left out (the default): byte mode. Chunks are `Buffer`,
   * `Uint8Array` or strings; each batch is one `Buffer` of at most `size` bytes.
   */
  objectMode?: false | undefined;
  /** Object mode only: a byte batch is bounded by `size` already. */
  maxBytes?: undefined;
  /** Object mode only, with `maxBytes`. */
  sizeOf?: undefined;
  /** See {@link ObjectBatchingWritableOptions.concurrency}. */
  concurrency?: number | undefined;
  /**
   * Receives each batch, one at a time: it is not called again before the
   * promise it returned has settled (or, if it returned no promise, before it
   * returned). Declared with two parameters, `(batch, done)`, it is called
   * Node-style instead: the batch is through when it calls `done()`, and
   * `done(error)` destroys the stream with `error`. The batch is its own: the
   * library never touches it again. A throw or a rejection destroys the
   * stream with that error.
   */
  onBatch: BatchConsumer<Buffer>;
}

/** `BatchingWritable` in object mode: `onBatch` receives an array of items. */
export interface ObjectBatchingWritableOptions<T>
  extends
    BatchingOptions,
    WritableHookOptions,
    Omit<WritableOptions, OwnedWritableOptions | keyof WritableHookOptions> {
  /**
   * `true`: object mode. Any value but `null` is an item; each batch is an
   * array of at most `size` items, holding the items themselves (not copies).
   */
  objectMode: true;
  /** As in byte mode, with an array of the items written, in write order. */
  onBatch: BatchConsumer<T[]>;
  /** See {@link ItemWeightOptions.maxBytes}. */
  maxBytes?: number | undefined;
  /** See {@link ItemWeightOptions.sizeOf}. */
  sizeOf?: ((item: T) => number) | undefined;
  /**
   * How many `onBatch` calls may run at once: a positive safe integer, default
   * 1 (one at a time: `onBatch` is not called again before the last call
   * settled). With `n` > 1, up to `n` calls run at once, started in write
   * order; while all `n` are busy the next batch keeps growing. `flush()`
   * resolves once every batch holding earlier writes has settled, and
   * `'finish'` comes after the last. The first failure destroys the stream
   * with its error; `'error'` and `'close'` then wait until the calls still
   * running have settled, and what they return is ignored
   * (docs/semantics.md 23).
   */
  concurrency?: number | undefined;
}

/**
 * The byte limit of object mode (docs/semantics.md 22), described once for
 * both classes: their object-mode options carry these two.
 */
export interface ItemWeightOptions<T> {
  /**
   * The most bytes a batch holds, as `sizeOf` weighs its items: a positive
   * safe integer. A batch closes at `size` items or at `maxBytes`, whichever
   * comes first; an item heavier than `maxBytes` goes alone. Needs `sizeOf`.
   */
  maxBytes?: number | undefined;
  /**
   * The bytes an item weighs, for `maxBytes` (which it needs): called once per
   * item, synchronously, as the item is written (or, for writes Node queued
   * while corked, when Node hands them over). It must return a non-negative
   * safe integer. A throw, or any other value, destroys the stream (with the
   * error thrown, or `ERR_INVALID_RETURN_VALUE`); that item is in no batch,
   * and its write callback gets the error.
   */
  sizeOf?: ((item: T) => number) | undefined;
}

/**
 * Options of `new BatchingWritable()`: byte mode unless `objectMode: true`,
 * so `onBatch` gets a `Buffer` or a `T[]`.
 */
export type BatchingWritableOptions<T = unknown> =
  ByteBatchingWritableOptions | ObjectBatchingWritableOptions<T>;

type OwnedTransformOptions =
  | OwnedWritableOptions
  | 'final'
  | 'transform'
  | 'flush'
  | 'read'
  | 'readableObjectMode'
  | 'writableObjectMode';

/** The options of `AsyncBatchStream` in either mode. */
interface AsyncBatchStreamCommonOptions
  extends BatchingOptions, Omit<TransformOptions, OwnedTransformOptions> {
  /**
   * Batches the readable side may hold before the stream waits for downstream;
   * default 1. (`highWaterMark` alone sets the writable side only.)
   */
  readableHighWaterMark?: number | undefined;
  /** Not here: an `AsyncBatchStream` pushes its batches downstream; read them there. */
  onBatch?: undefined;
  /** Not here: downstream reads one batch at a time, as fast as it can. */
  concurrency?: undefined;
}

/** `AsyncBatchStream` in byte mode: bytes in, coalesced `Buffer`s out. */
export interface ByteAsyncBatchStreamOptions extends AsyncBatchStreamCommonOptions {
  /** `false` or left out (the default): byte mode. */
  objectMode?: false | undefined;
  /** Object mode only: a byte batch is bounded by `size` already. */
  maxBytes?: undefined;
  /** Object mode only, with `maxBytes`. */
  sizeOf?: undefined;
}

/** `AsyncBatchStream` in object mode: items in, arrays of items out. */
export interface ObjectAsyncBatchStreamOptions<T = unknown> extends AsyncBatchStreamCommonOptions {
  /** `true`: object mode. Any value but `null` is an item. */
  objectMode: true;
  /** See {@link ItemWeightOptions.maxBytes}. */
  maxBytes?: number | undefined;
  /** See {@link ItemWeightOptions.sizeOf}. */
  sizeOf?: ((item: T) => number) | undefined;
}

/** Options of `new AsyncBatchStream()`: byte mode unless `objectMode: true`. */
export type AsyncBatchStreamOptions<T = unknown> =
  ByteAsyncBatchStreamOptions | ObjectAsyncBatchStreamOptions<T>;

/** The batching settings, checked and resolved once at construction. */
export interface BatchSettings {
  /** Most units per batch (bytes or items). */
  readonly size: number;
  /** Linger for a non-full batch, in ms; 0 = next turn; Infinity = never. */
  readonly maxDelay: number;
  /** Items (true) or bytes (false). */
  readonly objectMode: boolean;
  /** Most bytes per batch as `sizeOf` weighs items; Infinity without `maxBytes`. */
  readonly maxBytes: number;
  /** Weighs an item for `maxBytes`; null without it. */
  readonly sizeOf: ((item: unknown) => number) | null;
  /** Most `onBatch` calls at once (1 for AsyncBatchStream). */
  readonly concurrency: number;
}

/** The most `setTimeout` can wait; Node clamps anything above to 1 ms. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Checks `options.size` (docs/semantics.md 3), the batch bound every class
 * takes: a positive safe integer.
 * @internal
 */
export function checkSize(size: unknown): number {
  if (typeof size !== 'number') throw invalidArgType('options.size', 'of type number', size);
  if (!Number.isSafeInteger(size) || size < 1) {
    throw outOfRange('options.size', `a positive safe integer (>= 1 && <= ${Number.MAX_SAFE_INTEGER})`, size);
  }
  return size;
}

/**
 * Checks the options shared by both classes and resolves defaults.
 * docs/semantics.md 11: bad arguments throw at once, as `TypeError` `ERR_INVALID_ARG_TYPE`
 * or `RangeError` `ERR_OUT_OF_RANGE`.
 */
export function checkBatchSettings(options: unknown): BatchSettings {
  if (options === null || typeof options !== 'object') {
    throw invalidArgType('options', 'of type object', options);
  }
  const {
    size,
    maxDelay = 0,
    objectMode = false,
  } = options as Partial<BatchingOptions> & {
    objectMode?: unknown;
  };
  if (typeof maxDelay !== 'number') throw invalidArgType('options.maxDelay', 'of type number', maxDelay);
  if (Number.isNaN(maxDelay) || maxDelay < 0 || (Number.isFinite(maxDelay) && maxDelay > MAX_TIMER_DELAY)) {
    throw outOfRange('options.maxDelay', `>= 0 && <= ${MAX_TIMER_DELAY}, or Infinity`, maxDelay);
  }
  if (typeof objectMode !== 'boolean') {
    throw invalidArgType('options.objectMode', 'of type boolean', objectMode);
  }
  const checkedSize = checkSize(size);
  const { maxBytes, sizeOf } = checkItemWeight(options, objectMode);
  return { size: checkedSize, maxDelay, objectMode, maxBytes, sizeOf, concurrency: 1 };
}

/** A positive safe integer, as `size`: the wording of the range error. */
const POSITIVE_SAFE_INTEGER = `a positive safe integer (>= 1 && <= ${Number.MAX_SAFE_INTEGER})`;

/**
 * Checks `maxBytes` and `sizeOf` (docs/semantics.md 22): object mode only
 * (ERR_INVALID_ARG_VALUE in byte mode), each needing the other
 * (ERR_MISSING_ARGS).
 */
function checkItemWeight(
  options: ItemWeightOptions<unknown>,
  objectMode: boolean,
): Pick<BatchSettings, 'maxBytes' | 'sizeOf'> {
  const { maxBytes, sizeOf } = options;
  if (maxBytes === undefined && sizeOf === undefined) return { maxBytes: Infinity, sizeOf: null };
  if (!objectMode) {
    const name = maxBytes === undefined ? 'options.sizeOf' : 'options.maxBytes';
    throw invalidArgValue(
      name,
      'is for object mode only (a byte batch is bounded by size)',
      maxBytes ?? sizeOf,
    );
  }
  if (maxBytes === undefined) throw missingArgs('options.maxBytes');
  if (typeof maxBytes !== 'number') throw invalidArgType('options.maxBytes', 'of type number', maxBytes);
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw outOfRange('options.maxBytes', POSITIVE_SAFE_INTEGER, maxBytes);
  }
  if (sizeOf === undefined) throw missingArgs('options.sizeOf');
  if (typeof sizeOf !== 'function') throw invalidArgType('options.sizeOf', 'of type function', sizeOf);
  return { maxBytes, sizeOf };
}

/**
 * Checks `BatchingWritable`'s `concurrency` (docs/semantics.md 23): a
 * positive safe integer, default 1.
 * @internal
 */
export function checkConcurrency(concurrency: unknown): number {
  if (concurrency === undefined) return 1;
  if (typeof concurrency !== 'number') {
    throw invalidArgType('options.concurrency', 'of type number', concurrency);
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw outOfRange('options.concurrency', POSITIVE_SAFE_INTEGER, concurrency);
  }
  return concurrency;
}

/**
 * `AsyncBatchStream` has no `concurrency`: its downstream reads one batch at a
 * time (docs/semantics.md 23).
 * @internal
 */
export function refuseConcurrency(concurrency: unknown): void {
  if (concurrency !== undefined) {
    throw invalidArgValue(
      'options.concurrency',
      'is for BatchingWritable only (downstream reads an AsyncBatchStream one batch at a time)',
      concurrency,
    );
  }
}
