// Small pieces of Node's stream protocol that the batching core and the
// worker writer share: writeV()'s argument checks and group marker,
// `writableNeedDrain`, and telling a thenable.
import { Buffer } from 'node:buffer';
import { Writable } from 'node:stream';
import { asError, invalidArgType, invalidChunk, nullChunk } from './errors';

/**
 * Marks the start of a `writeV()` group in Node's write queue; its value is the
 * number of chunks that follow. A user chunk can never carry this symbol.
 */
const kGroup = Symbol('mwsr.group');
type GroupMarker = { [kGroup]: number };

/**
 * Throws what `writeV(chunks, callback)` throws before writing anything:
 * `chunks` not an array, a callback that is not a function, or a chunk a
 * plain Writable's write() would refuse (docs/semantics.md 7, 11).
 * @internal
 */
export function checkGroup(chunks: unknown, callback: unknown, objectMode: boolean): void {
  if (!Array.isArray(chunks)) throw invalidArgType('chunks', 'an instance of Array', chunks);
  if (callback !== undefined && typeof callback !== 'function') {
    throw invalidArgType('callback', 'of type function', callback);
  }
  for (const chunk of chunks as unknown[]) {
    if (chunk === null) throw nullChunk();
    if (objectMode || typeof chunk === 'string' || chunk instanceof Buffer) continue;
    // Node 20's write() takes any ArrayBufferView and makes a Buffer of it.
    if (!ArrayBuffer.isView(chunk)) throw invalidChunk(chunk);
    checkAttached(chunk);
  }
}

/**
 * Throws what Node's write() throws making a Buffer of a view (not a Buffer)
 * whose ArrayBuffer was transferred: V8's own TypeError, read in Node's order
 * (a DataView fails on `byteOffset`, a typed array, then empty, on the
 * construction).
 */
function checkAttached(view: ArrayBufferView): void {
  const { buffer, byteOffset, byteLength } = view;
  if (byteLength === 0) void new Uint8Array(buffer, byteOffset, 0);
}

/**
 * A marker for a group of `count` chunks, to write ahead of them. Byte mode
 * takes only Buffers: a zero-length one carries the count and adds nothing to
 * writableLength; in object mode it is one item (Node counts it so).
 * @internal
 */
export function groupMarker(count: number, objectMode: boolean): unknown {
  const marker: GroupMarker = { [kGroup]: count };
  return objectMode ? marker : Object.assign(Buffer.alloc(0), marker);
}

/**
 * The chunk count of a group marker, or -1 for a user chunk.
 * @internal
 */
export function groupCountOf(chunk: unknown, objectMode: boolean): number {
  if (objectMode) {
    return typeof chunk === 'object' && chunk !== null && kGroup in chunk
      ? (chunk as GroupMarker)[kGroup]
      : -1;
  }
  // Byte mode: only a zero-length Buffer can be a marker; test that first.
  return (chunk as Buffer).length === 0 && kGroup in (chunk as object) ? (chunk as GroupMarker)[kGroup] : -1;
}

/** Node's own `writableNeedDrain` getter (Node 18+): true while Node owes a 'drain' for its queue. */
const nodeNeedDrainGetter = Object.getOwnPropertyDescriptor(Writable.prototype, 'writableNeedDrain')?.get as (
  this: Writable,
) => boolean;

/**
 * Node's own `writableNeedDrain`, which sees only its queue.
 * @internal
 */
export function nodeNeedsDrain(stream: Writable): boolean {
  return nodeNeedDrainGetter.call(stream);
}

/**
 * Defines a stream class's `writableNeedDrain`: true while a write() returned
 * false and its 'drain' has not come, by Node's count or by `drainOwed`, and (as
 * Node's) the stream is neither ending nor destroyed (Node's
 * own getter sees only its queue; `pipe()` and `ready()` read this one).
 * Defined on the prototype since Node's typings declare a property, not an
 * accessor.
 * @internal
 */
export function defineNeedDrain<S extends Writable>(prototype: S, drainOwed: (stream: S) => boolean): void {
  Object.defineProperty(prototype, 'writableNeedDrain', {
    configurable: true,
    enumerable: false,
    get(this: S): boolean {
      // Node's own says false once the stream is ending or destroyed: no
      // 'drain' will come then, whatever was owed.
      return nodeNeedsDrain(this) || (drainOwed(this) && !this.writableEnded && !this.destroyed);
    },
  });
}

/**
 * `end(chunk, encoding, callback)` on a stream destroyed without an error
 * (and not ended before): Node keeps that callback and may never call it
 * (docs/node-parity.md). Returns the callback, for the caller to fail with
 * ERR_STREAM_DESTROYED once Node's `end()` has returned (not if it throws),
 * and Node's arguments without it; null in any other state, where Node calls
 * it itself.
 * @internal
 */
export function takeEndCallback(
  stream: Writable,
  chunk: unknown,
  encoding: unknown,
  callback: unknown,
): { done: (error?: Error | null) => void; args: [unknown, unknown, unknown] } | null {
  const done = typeof chunk === 'function' ? chunk : typeof encoding === 'function' ? encoding : callback;
  if (typeof done !== 'function' || !stream.destroyed || stream.errored !== null || stream.writableEnded) {
    return null;
  }
  const args: [unknown, unknown, unknown] =
    done === chunk
      ? [undefined, undefined, undefined]
      : done === encoding
        ? [chunk, undefined, undefined]
        : [chunk, encoding, undefined];
  return { done: done as (error?: Error | null) => void, args };
}

/**
 * True for a value with a callable `then`: a promise, or a foreign thenable.
 * @internal
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Node's `destroy` option: `_destroy(error, callback)` as the user writes it. */
export type UserDestroy = (
  this: Writable,
  error: Error | null,
  callback: (error?: Error | null) => void,
) => void;

/**
 * Runs a `destroy` option once the stream's own `_destroy` has stopped it
 * (a plain Writable installs the option as its `_destroy`, which would
 * replace ours): with the error, if any; what it calls back with (or throws)
 * is the stream's error, as Node takes it from `_destroy`.
 */
export function destroyAfterOurs(stream: Writable, userDestroy: UserDestroy): void {
  const ownDestroy = stream._destroy;
  stream._destroy = (error, callback) => {
    ownDestroy.call(stream, error, (stopped) => {
      callHook(callback, () => userDestroy.call(stream, stopped ?? null, callback));
    });
  };
}

/** Node's `final` option: `_final(callback)` as the user writes it. */
export type UserFinal = (this: Writable, callback: (error?: Error | null) => void) => void;

/**
 * Runs a `final` option (or a subclass's `_final`) once the stream's own
 * `_final`, `ownFinal`, has called back without an error: as Node calls
 * `_final` once its sink has taken every write. What it throws fails the
 * stream, as Node takes a throw from `_final`.
 */
export function finalAfterOurs(stream: Writable, ownFinal: UserFinal, userFinal: UserFinal): void {
  stream._final = (callback) => {
    ownFinal.call(stream, (error) => {
      if (error) callback(error);
      else callHook(callback, () => userFinal.call(stream, callback));
    });
  };
}

/** Runs a user's hook as Node runs `_final` and `_destroy`: what it throws goes to `callback`. */
function callHook(callback: (error?: Error | null) => void, hook: () => void): void {
  try {
    hook();
  } catch (thrown) {
    callback(asError(thrown));
  }
}
