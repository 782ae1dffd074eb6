import type { TransformOptions, WritableOptions } from 'node:stream';
import { invalidArgType, outOfRange } from './errors';

/** What one `write()` takes in byte mode. */
export type ByteChunk = Buffer | Uint8Array | string;

/**
 * What `writeV()` takes: byte chunks for the default `T = Buffer`, items of
 * type `T` otherwise.
 */
export type Chunk<T> = [T] extends [Buffer] ? ByteChunk : T;

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
  maxDelay?: number;
}

/** Which Node options we set ourselves, so the user cannot. */
type OwnedWritableOptions = 'write' | 'writev' | 'final' | 'objectMode' | 'decodeStrings';

/** `BatchingWritable` in byte mode: `onBatch` receives one `Buffer`. */
export interface ByteBatchingWritableOptions
  extends BatchingOptions, Omit<WritableOptions, OwnedWritableOptions> {
  /**
   * `false` or left out (the default): byte mode. Chunks are `Buffer`,
   * `Uint8Array` or strings; each batch is one `Buffer` of at most `size` bytes.
   */
  objectMode?: false;
  /**
   * Receives each batch, one at a time: it is not called again before the
   * promise it returned has settled (or, if it returned no promise, before it
   * returned). The batch is its own: the library never touches it again. A
   * throw or a rejection destroys the stream with that error.
   */
  onBatch(batch: Buffer): void | PromiseLike<unknown>;
}

/** `BatchingWritable` in object mode: `onBatch` receives an array of items. */
export interface ObjectBatchingWritableOptions<T>
  extends BatchingOptions, Omit<WritableOptions, OwnedWritableOptions> {
  /**
   * `true`: object mode. Any value but `null` is an item; each batch is an
   * array of at most `size` items, holding the items themselves (not copies).
   */
  objectMode: true;
  /** As in byte mode, with an array of the items written, in write order. */
  onBatch(batch: T[]): void | PromiseLike<unknown>;
}

/**
 * Options of `new BatchingWritable<T>()`: byte mode unless `objectMode: true`,
 * so `onBatch` gets a `Buffer` or a `T[]`.
 */
export type BatchingWritableOptions<T = Buffer> =
  ByteBatchingWritableOptions | ObjectBatchingWritableOptions<T>;

type OwnedTransformOptions =
  OwnedWritableOptions | 'transform' | 'flush' | 'read' | 'readableObjectMode' | 'writableObjectMode';

/** Options of `new AsyncBatchStream<T>()`: byte mode unless `objectMode: true`. */
export interface AsyncBatchStreamOptions
  extends BatchingOptions, Omit<TransformOptions, OwnedTransformOptions> {
  /** `true`: items in, arrays out. `false` (default): bytes in, coalesced `Buffer`s out. */
  objectMode?: boolean;
  /**
   * Batches the readable side may hold before the stream waits for downstream;
   * default 1. (`highWaterMark` alone sets the writable side only.)
   */
  readableHighWaterMark?: number;
}

/** The batching settings, checked and resolved once at construction. */
export interface BatchSettings {
  /** Most units per batch (bytes or items). */
  readonly size: number;
  /** Linger for a non-full batch, in ms; 0 = next turn; Infinity = never. */
  readonly maxDelay: number;
  /** Items (true) or bytes (false). */
  readonly objectMode: boolean;
}

/** The most `setTimeout` can wait; Node clamps anything above to 1 ms. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Checks the options shared by both classes and resolves defaults.
 * API.md 11: bad arguments throw at once, as `TypeError` `ERR_INVALID_ARG_TYPE`
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
  if (typeof size !== 'number') throw invalidArgType('options.size', 'of type number', size);
  if (!Number.isSafeInteger(size) || size < 1) {
    throw outOfRange('options.size', `a positive safe integer (>= 1 && <= ${Number.MAX_SAFE_INTEGER})`, size);
  }
  if (typeof maxDelay !== 'number') throw invalidArgType('options.maxDelay', 'of type number', maxDelay);
  if (Number.isNaN(maxDelay) || maxDelay < 0 || (Number.isFinite(maxDelay) && maxDelay > MAX_TIMER_DELAY)) {
    throw outOfRange('options.maxDelay', `>= 0 && <= ${MAX_TIMER_DELAY}, or Infinity`, maxDelay);
  }
  if (typeof objectMode !== 'boolean') {
    throw invalidArgType('options.objectMode', 'of type boolean', objectMode);
  }
  return { size, maxDelay, objectMode };
}
