// Buffer and process from their modules: Node defines the globals as getters,
// which cost a getter call on every use in a hot path (callgrind: ~120
// instructions a write).
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { Writable } from 'node:stream';
import { type Accumulator, ByteAccumulator, hasExactByteLength, ItemAccumulator } from './accumulators';
import { asError, invalidReturnValue, streamDestroyed, writeAfterEnd } from './errors';
import {
  checkGroup,
  groupCountOf,
  groupMarker,
  isThenable,
  nodeNeedsDrain,
  takeEndCallback,
} from './node-shims';
import type { BatchSettings } from './options';

/** A write's callback, as Node hands it to `_write`/`_writev`. */
export type WriteCallback = (error?: Error | null) => void;

/** Fast-path writes' callback, due `count` times on one tick. */
interface DueCallbacks {
  callback: WriteCallback;
  count: number;
}

/** One entry of what Node hands to `_writev`. */
export interface WritevEntry {
  chunk: unknown;
}

/**
 * The stream face the core serves. The core never calls user code except
 * through `deliver`, and never from inside `write()`: a callback of the
 * user's must not run inside the write that triggered it.
 * @internal
 */
export interface BatchHost<B> {
  /** The writable side: its buffered length, `cork`, `write` and `destroy`. */
  readonly stream: Writable;
  /**
   * Takes one batch. A returned thenable holds the next hand-over until it
   * settles (docs/semantics.md 4); a throw or a rejection destroys the stream.
   */
  deliver(batch: B): void | PromiseLike<unknown>;
  /** False while the consumer cannot take another batch (a full readable side). */
  canTakeBatch(): boolean;
}

/**
 * Figures for tuning `size` and `maxDelay`, kept always on: counters move once
 * per batch, never per write.
 */
export interface BatchStats {
  /** Batches handed over so far. */
  readonly batches: number;
  /** Units (bytes, or items) handed over so far. */
  readonly units: number;
  /** Units of the largest batch so far. */
  readonly largestBatch: number;
  /** Units copied into batches and not handed over yet: the open batch and full ones behind the consumer. */
  readonly pendingUnits: number;
  /**
   * Milliseconds the consumer held the stream back, summed over all batches:
   * from each hand-over until `onBatch` settled (BatchingWritable; with
   * `concurrency` > 1, while at least one call runs), or until downstream
   * read again after the readable side filled, or a pipe destination
   * finished writing what it was given (AsyncBatchStream).
   */
  readonly busyMs: number;
  /** The longest such wait for one batch, in ms. */
  readonly maxBusyMs: number;
  /** The last such wait, in ms. */
  readonly lastBusyMs: number;
  /**
   * `onBatch` calls running now: at most `concurrency` (BatchingWritable). An
   * AsyncBatchStream's hand-over is a `push()`, done at once: 0.
   */
  readonly inFlight: number;
  /**
   * Bytes of the batches' items not handed over yet, as `sizeOf` weighs them
   * (object mode with `maxBytes`; 0 in object mode without it). In byte mode
   * the same as `pendingUnits`.
   */
  readonly pendingBytes: number;
  /** Bytes of the heaviest batch so far, as `pendingBytes` counts them. */
  readonly largestBatchBytes: number;
}

/** What a waiting `flush()` needs: the count it waits for and its promise's ends. */
interface FlushWaiter {
  /** Settled count at which this flush is done (what was written before the call). */
  readonly target: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

type Phase = 'open' | 'ending' | 'ended' | 'destroyed';

/** A batch handed over, until it and every batch before it settled (docs/semantics.md 23). */
interface OutBatch {
  /** Its count, plus empty groups' markers counted after it was handed over. */
  count: number;
  /** True once its onBatch call settled (before an earlier one, with concurrency > 1). */
  settled: boolean;
}

/** A full batch waiting behind the consumer. */
interface FullBatch<B> {
  readonly batch: B;
  /** Its bytes or items (BatchStats). */
  readonly length: number;
  /** Its count, as Node counts it (object-mode group markers included). */
  readonly count: number;
  /** Its bytes as `sizeOf` weighs them (0 without `maxBytes`). */
  readonly bytes: number;
}

/** Milliseconds rounded to whole microseconds: finer digits of performance.now() are noise. */
function toMicroseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * The batching core shared by `BatchingWritable` and `AsyncBatchStream`: the
 * open batch and its bounds, group placement, when to hand over (as soon as
 * possible, or after `maxDelay`), one hand-over at a time, the sticky error,
 * and the `flush()` waiters. The faces only map Node's hooks onto it.
 *
 * Units are bytes (byte mode) or items (object mode), as in BatchStats; a
 * count is what Node's `writableLength` counts: units, and in object mode one
 * more for each group's marker.
 * @internal
 */
export class BatchCore<B> {
  /** Most units per batch (docs/semantics.md 3). */
  readonly #size: number;
  /** Linger of a non-full batch in ms: 0 = the next turn, Infinity = never. */
  readonly #maxDelay: number;
  /** Items (true) or bytes (false); decided once. */
  readonly #objectMode: boolean;
  /** The stream face: where batches go and whose writable state we read. */
  readonly #host: BatchHost<B>;
  /** The open batch. */
  readonly #accumulator: Accumulator<B>;
  /**
   * True while write() may skip Node's queue (see tryWrite): never for a
   * stream with a _construct step (Node must finish it first) or a
   * highWaterMark of 0 (every write returns false: Node's path says so);
   * false for good once ending or destroyed. (Node calls `_final` from
   * inside `end()` when it queues nothing, and it queues something only
   * while corked or waiting for our callback, when the fast path is closed
   * anyway: so after `end()` Node's own write() takes every chunk and fails
   * it, on Node 18 to 24 alike.)
   */
  #writeOpen: boolean;
  /**
   * `cork()` calls not yet matched by `uncork()`, as the face counts them
   * (reading Node's writableCorked getter cost 5% of a 64 B write).
   */
  #corks = 0;
  /** The open batch as bytes (byte mode), for the fast path; null in object mode. */
  readonly #bytes: ByteAccumulator | null;
  /**
   * `#bytes` while write() may skip Node's queue (`#writeOpen`, nothing
   * corked, no Node write held), else null: the hot path's one test, kept in
   * step by `#refreshFastPath()`.
   */
  #fastBytes: ByteAccumulator | null = null;
  /**
   * Encoding of string chunks written without one, while the fast path can
   * size them exactly (see hasExactByteLength); null sends such strings to
   * Node's path. The face keeps it in step with Node's default encoding.
   */
  #stringEncoding: BufferEncoding | null = 'utf8';

  /** Lifecycle: 'ending' from `_final` until the last batch settled; 'destroyed' is final. */
  #phase: Phase = 'open';
  /**
   * True while `#concurrency` handed-over batches have not settled: with the
   * default of 1, never two at once (docs/semantics.md 4, 23).
   */
  #busy = false;
  /** Most batches out with the consumer at once: `concurrency` (docs/semantics.md 23). */
  readonly #concurrency: number;
  /** Hand-overs not settled yet: at most `#concurrency`. */
  #inFlight = 0;
  /**
   * Batches handed over whose counts are not settled yet, oldest first: a
   * batch's count settles once it and every batch before it have settled, so
   * a `flush()` resolves only when all that it waits for went through.
   */
  #out: OutBatch[] = [];
  /** `_destroy`'s go-ahead, held while onBatch calls still run (concurrency > 1). */
  #afterCalls: (() => void) | null = null;
  /** The first error; sticky (docs/semantics.md 10). */
  #error: Error | null = null;

  /**
   * The open batch's count beyond its units: object-mode group markers (see
   * #openCount). Units are counted by the accumulator alone, so a write
   * updates no counter of its own: tryWrite's bytecode went from 112 to 76
   * bytes, and V8 then inlined the whole write into AsyncBatchStream's
   * writer loop too (callgrind, fresh 64 B messages: 1154 -> 1113
   * instructions a message).
   */
  #openMarkers = 0;
  /** Count of the full batches. */
  #fullCount = 0;
  /** Counts ever handed over and settled: `flush()` targets are taken on these and #admittedCount. */
  #handedOverCount = 0;
  #settledCount = 0;

  /**
   * Full batches behind the consumer, oldest first. A write that does not fit
   * in the open batch shelves it and starts the next one, so every write is
   * copied at once and none waits in Node's queue (bench, 64 B writes from
   * 256 producers into a socket: 1.14x BatchingWritable, 1.10x
   * AsyncBatchStream, against holding the write in Node's queue).
   */
  #fullBatches: FullBatch<B>[] = [];
  /** Bytes or items in the full batches (BatchStats). */
  #fullLength = 0;
  /** Scratch for #tryAdmitGroup: each chunk's units (reused, not one array a group). */
  readonly #groupUnits: number[] = [];

  // Object mode's byte limit (docs/semantics.md 22): off the byte hot path,
  // and one null test on the object path (#tryAdmit, write, writev) when unset.

  /** Weighs an item for `#maxBytes`; null without `maxBytes`. */
  readonly #sizeOf: ((item: unknown) => number) | null;
  /** Most bytes a batch holds as `#sizeOf` weighs them; Infinity without. */
  readonly #maxBytes: number;
  /** Bytes of the open batch, and of the full batches, as `#sizeOf` weighs them. */
  #openBytes = 0;
  #fullBytes = 0;
  /** Heaviest batch handed over (BatchStats). */
  #largestBatchBytes = 0;
  /**
   * The byte backlog at which write() returns false, as `#limit` for items:
   * `maxBytes × (size + highWaterMark) / size`, rounded up; Infinity without
   * `maxBytes`.
   */
  readonly #bytesLimit: number;
  /**
   * `#limit`, or 0 with a byte limit too: the inline test of
   * #fastWriteResult then always falls through to #okOrOweDrain, which tests both.
   */
  readonly #quickLimit: number;

  // Backpressure and held callbacks.

  /**
   * Backpressure (docs/semantics.md 12): once the backlog (bytes or items admitted, not
   * yet handed over) reaches `size + highWaterMark`, write() returns false,
   * and its callback waits for the 'drain' that follows the hand-over that
   * brings the backlog below the limit.
   */
  readonly #limit: number;
  /** True once a write returned false: a 'drain' is owed. */
  #needDrain = false;
  /** Callbacks of writes taken at or above the limit, in write order. */
  #heldCallbacks: WriteCallback[] = [];
  /**
   * The fast path's last callback tick, while more writes with the same
   * callback may join it (as Node's afterWriteTickInfo: one tick calls it
   * `count` times); null once anything else may have queued a callback
   * (Node's path, a held callback, destroy), so callbacks still come in
   * write order. (A release only ever carries held callbacks, and holding
   * one already closed the tick.)
   */
  #dueCallbacks: DueCallbacks | null = null;
  /** Write callback ticks of ours queued and not yet run to their end. */
  #dueTicks = 0;
  /**
   * `end()` callbacks taken by endArguments: failed with ERR_STREAM_DESTROYED
   * at the end of the next write callback tick, as Node's afterWrite does on
   * a destroyed stream.
   */
  #endCallbacksDue: WriteCallback[] = [];
  /** The `end()` callback endArguments took, until Node's end() has returned. */
  #endTaken: WriteCallback | null = null;
  /**
   * True from a Node write whose callback we called at once until the tick
   * after Node's own callback tick. Node adds a later write with the same
   * callback to that tick (afterWriteTickInfo), so a fast-path callback tick
   * queued meanwhile would be overtaken: `write('a', 'utf8', X); write(buf,
   * Y); write('c', 'utf8', X)` would call X, X, Y. While true, writes with a
   * callback take Node's path, which keeps its own order.
   */
  #nodeTickPending = false;
  /** Held callbacks on their way out, on the next tick; null when none are. */
  #releasing: WriteCallback[] | null = null;
  /**
   * True once another write callback tick was queued behind that drain
   * tick: callbacks held since must not join it (they would overtake that
   * tick's callback); they wait for a drain tick of their own.
   */
  #releaseClosed = false;
  /**
   * Node's own write callback is the last held one: Node then queues further
   * writes itself until we call it, so write() must not skip its queue.
   */
  #nodeHeld: WriteCallback | null = null;
  /** Count of that held Node write (Node still counts it in writableLength). */
  #nodeHeldCount = 0;

  /** Batches and units handed over, and the largest batch: see BatchStats. */
  #batches = 0;
  #batchedUnits = 0;
  #largestBatch = 0;
  /** When the consumer last became busy (performance.now()), or -1 while free. */
  #busySince = -1;
  /** Busy time in ms: total, longest and last (BatchStats). */
  #busyMs = 0;
  #maxBusyMs = 0;
  #lastBusyMs = 0;

  /** Highest `flush()` target: the open batch is due while it covers a count not handed over. */
  #flushTarget = 0;
  /** Waiting `flush()` calls, targets in ascending order. */
  #flushWaiters: FlushWaiter[] = [];
  /** `_final`/`_flush` callback, held while ending, from the tick after `end()`. */
  #finalCallback: WriteCallback | null = null;

  /**
   * Waiting `Symbol.asyncDispose` calls, told when the stream is destroyed
   * or errors for good (see #erroredMaybe): 'close', which Node's
   * finished() waits for, never comes with `emitClose: false`.
   */
  readonly #stopWaiters = new Set<(error: Error | null) => void>();
  /** What every `ready()` caller waits on until the next 'drain'; null while none waits. */
  #readyWaiter: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | null = null;

  /** Pending `setImmediate` for a non-full batch written while idle (maxDelay 0). */
  #immediate: NodeJS.Immediate | null = null;
  /** True while a `process.nextTick` hand-over is queued (full batch, flush, end). */
  #tickQueued = false;
  /** The open batch's `maxDelay` timer, started at its first write. */
  #timer: NodeJS.Timeout | null = null;
  /** True once the open batch's `maxDelay` has elapsed. */
  #delayElapsed = false;

  // Callbacks handed to timers, ticks and promises are bound once, here: no
  // closure per write or per batch.
  // (With concurrency 1 only one batch is out: it is `#out[0]`.)
  readonly #onSettled = (): void => {
    this.#callEnded(this.#out[0]);
  };
  readonly #onFailed = (reason: unknown): void => {
    this.#callFailed(reason);
  };
  readonly #onTick = (): void => {
    this.#tickQueued = false;
    this.#pump();
  };
  readonly #onImmediate = (): void => {
    this.#immediate = null;
    this.#pump();
  };
  readonly #onDelayElapsed = (): void => {
    this.#timer = null;
    this.#delayElapsed = true;
    this.#pump();
  };
  readonly #onReadyDrain = (): void => {
    const waiter = this.#readyWaiter;
    this.#readyWaiter = null;
    waiter?.resolve();
  };
  readonly #onEndTick = (callback: WriteCallback): void => {
    if (this.#phase !== 'ending') return; // destroyed meanwhile
    this.#finalCallback = callback;
    this.#pump();
  };
  readonly #onHeldFailTick = (held: WriteCallback[], error: Error | null): void => {
    for (const callback of held) callback(error);
    this.#dueTickDone();
  };
  readonly #onNodeTickDone = (): void => {
    this.#nodeTickPending = false;
  };
  readonly #onDueTick = (due: DueCallbacks): void => {
    if (this.#dueCallbacks === due) this.#dueCallbacks = null;
    for (let i = 0; i < due.count; i++) due.callback(null);
    this.#dueTickDone();
  };
  readonly #onDrainTick = (): void => {
    const stream = this.#host.stream;
    this.#releaseHeld();
    if (this.#heldCallbacks.length > 0) {
      // Held behind a later callback tick: they (and the 'drain') go on a
      // drain tick of their own, once below the limit.
      this.#drainMaybe();
      return;
    }
    if (!this.#needDrain || this.#phase !== 'open' || !this.#belowLimit(0)) return;
    this.#needDrain = false;
    // Node emits its own 'drain' once its queue empties: one is enough.
    if (!nodeNeedsDrain(stream)) stream.emit('drain');
  };

  constructor(settings: BatchSettings, host: BatchHost<B>, defaultEncoding: BufferEncoding = 'utf8') {
    this.#size = settings.size;
    this.#maxDelay = settings.maxDelay;
    this.#objectMode = settings.objectMode;
    this.#host = host;
    // The face picks B to match the mode (Buffer or T[]); decided once here.
    this.#bytes = settings.objectMode ? null : new ByteAccumulator(settings.size);
    this.#accumulator = (this.#bytes ?? new ItemAccumulator()) as unknown as Accumulator<B>;
    this.defaultEncoding = defaultEncoding;
    const stream = host.stream as Writable & { _construct?: unknown };
    this.#limit = settings.size + stream.writableHighWaterMark;
    this.#concurrency = settings.concurrency;
    this.#sizeOf = settings.sizeOf;
    this.#maxBytes = settings.maxBytes;
    this.#bytesLimit =
      settings.sizeOf === null ? Infinity : Math.ceil((settings.maxBytes * this.#limit) / settings.size);
    this.#quickLimit = settings.sizeOf === null ? this.#limit : 0;
    this.#writeOpen = typeof stream._construct !== 'function' && stream.writableHighWaterMark > 0;
    this.#refreshFastPath();
  }

  /** The stream's default encoding, as Node's `setDefaultEncoding()` sets it. */
  set defaultEncoding(encoding: BufferEncoding) {
    this.#stringEncoding = hasExactByteLength(encoding) ? encoding : null;
  }

  /** A snapshot of the batching figures. */
  get stats(): BatchStats {
    return {
      batches: this.#batches,
      units: this.#batchedUnits,
      largestBatch: this.#largestBatch,
      pendingUnits: this.#backlog(),
      busyMs: toMicroseconds(this.#busyMs),
      maxBusyMs: toMicroseconds(this.#maxBusyMs),
      lastBusyMs: toMicroseconds(this.#lastBusyMs),
      inFlight: this.#inFlight,
      pendingBytes: this.#objectMode ? this.#fullBytes + this.#openBytes : this.#backlog(),
      largestBatchBytes: this.#objectMode ? this.#largestBatchBytes : this.#largestBatch,
    };
  }

  // ---- Node's hooks ------------------------------------------------------

  /**
   * `write()`'s fast path (per-write work is what every message pays
   * for). While Node holds nothing (not corked, nothing queued, not ended),
   * the chunk is copied straight into the open batch, without Node's queue
   * entry; its callback comes on the next tick, as Node would call it, or at
   * the drain when the write returned false. Returns write()'s result, or
   * undefined when Node's own write() must take the chunk, with all its
   * checks.
   *
   * The common case, bytes that fit in the open batch's storage, comes first
   * with one test of state (`#fastBytes`) and everything else out of line:
   * V8 inlines callers only up to a bytecode budget, shared with the
   * caller's own work, so the smaller this is, the likelier the whole write
   * is inlined into the producer's loop. callgrind, --single-threaded, 64 B
   * writes from 256 producers, harness included: 1414 -> 1299 instructions a
   * message with the first fast path; 1060 -> 1038 (BatchingWritable) and
   * 1245 -> 1102 (AsyncBatchStream) with this shape.
   */
  tryWrite(chunk: unknown, encoding: unknown, callback: unknown): boolean | undefined {
    const bytes = this.#fastBytes;
    if (
      bytes !== null &&
      encoding === undefined &&
      callback === undefined &&
      chunk instanceof Uint8Array &&
      bytes.append(chunk)
    ) {
      return this.#appendedResult();
    }
    return this.#tryAdmit(chunk, encoding, callback);
  }

  /**
   * #fastWriteResult for bytes appended to the open batch below `size`:
   * they make no hand-over urgent, so there is nothing to arrange while the
   * consumer is busy or a tick or an immediate will pump anyway (callgrind,
   * AsyncBatchStream, 64 B from async writers: 1368 -> 1303 instructions a
   * message). Byte mode has no byte limit (`maxBytes`), so the limit is
   * `#limit` alone, tested here and not in #okOrOweDrain, which V8 left as a
   * call (a writer that writes until false meets it once in four writes:
   * fresh 64 B messages, 1113 -> 1089).
   */
  #appendedResult(): boolean {
    if (!this.#busy && !this.#tickQueued && this.#immediate === null) this.#scheduleMaybe();
    if (this.#backlog() < this.#limit) return true;
    this.#needDrain = true;
    return false;
  }

  /** The rest of tryWrite, out of line so the hot case stays small. */
  #tryAdmit(chunk: unknown, encoding: unknown, callback: unknown): boolean | undefined {
    // write(chunk, callback): Node's overload, resolved here once for both faces.
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (!this.#mayBypassNode() || !this.#mayTakeCallback(callback)) return undefined;
    const units = this.#fastUnitsOf(chunk, encoding);
    if (units < 0) return undefined;
    if (this.#sizeOf !== null) return this.#tryAdmitWeighed(chunk, callback);
    this.#admit(chunk, units);
    return this.#fastWriteResult(callback);
  }

  /**
   * The units of a chunk the fast path can take (that a new batch, a shelving or a
   * string needs), or -1 for one Node's own write() must check.
   */
  #fastUnitsOf(chunk: unknown, encoding: unknown): number {
    if (this.#objectMode) return chunk === null ? -1 : 1; // Node throws ERR_STREAM_NULL_VALUES
    if (chunk instanceof Uint8Array) {
      // Node checks an encoding even for Buffers (ERR_UNKNOWN_ENCODING): let it.
      if (encoding !== undefined && encoding !== 'buffer' && !Buffer.isEncoding(encoding as string))
        return -1;
      // Node makes a Buffer of any other view, which throws for a view of a
      // transferred (detached) ArrayBuffer, always empty: let it.
      if (chunk.length === 0 && !(chunk instanceof Buffer)) return -1;
      return chunk.length;
    }
    if (typeof chunk === 'string' && encoding === undefined && this.#stringEncoding !== null)
      return Buffer.byteLength(chunk, this.#stringEncoding);
    return -1;
  }

  /** A fast-path write is in: arrange the hand-over, and give write()'s result. */
  #fastWriteResult(callback: unknown): boolean {
    if (!this.#busy) this.#scheduleMaybe();
    const ok = this.#backlog() < this.#quickLimit || this.#okOrOweDrain();
    if (callback !== undefined) this.#callbackFast(callback, ok);
    return ok;
  }

  /**
   * Node's `end()` arguments, less the callback when the core takes it:
   * `end(callback)` on a stream destroyed without an error (and not ended
   * before). Node keeps that callback and fails it with ERR_STREAM_DESTROYED
   * only if one of its write callback ticks is still due (and, for writes
   * without a callback, not always then); otherwise never. The core always
   * fails it: at the end of the next write callback tick of its own
   * (fast-path callbacks, held callbacks failed by destroy()), as Node would,
   * or on a tick of its own (docs/node-parity.md).
   */
  endArguments(chunk: unknown, encoding: unknown, callback: unknown): [unknown, unknown, unknown] {
    const taken = takeEndCallback(this.#host.stream, chunk, encoding, callback);
    // Failed once Node's end() has returned (endCalled): not if it throws.
    this.#endTaken = taken === null ? null : taken.done;
    return taken === null ? [chunk, encoding, callback] : taken.args;
  }

  /** A write callback tick of ours has run: end() callbacks taken meanwhile fail now. */
  #dueTickDone(): void {
    this.#dueTicks--;
    if (this.#endCallbacksDue.length === 0) return;
    const callbacks = this.#endCallbacksDue;
    this.#endCallbacksDue = [];
    for (const callback of callbacks) callback(streamDestroyed('end'));
  }

  /** The face's `cork()` (+1) or `uncork()` (-1) has run. */
  corked(delta: 1 | -1): void {
    this.#corks = Math.max(0, this.#corks + delta);
    this.#refreshFastPath();
  }

  /** Recomputes `#fastBytes` after `#writeOpen`, `#corks` or `#nodeHeld` changed. */
  #refreshFastPath(): void {
    this.#fastBytes = this.#mayBypassNode() ? this.#bytes : null;
  }

  /**
   * True while a write may skip Node's queue: Node queues writes only while
   * corked or while it waits for our callback, and ended (or destroyed)
   * streams must fail as Node fails them.
   */
  #mayBypassNode(): boolean {
    return this.#writeOpen && this.#corks === 0 && this.#nodeHeld === null;
  }

  /**
   * What write() returns for a chunk Node's own write() took: false as well
   * when the backlog has reached the limit (Node knows only its own queue).
   */
  nodeWriteResult(ok: boolean): boolean {
    if (!ok) this.#erroredMaybe();
    return ok && this.#okOrOweDrain(this.#nodeQueued());
  }

  /**
   * With `autoDestroy: false` a write after `end()` leaves the stream
   * errored but alive. As for a plain Writable, what was written before goes
   * on to the consumer, and Node will never finish: waiting `ready()` and
   * `Symbol.asyncDispose` calls fail with the error (a `flush()` settles as
   * its data does).
   */
  #erroredMaybe(): void {
    const stream = this.#host.stream;
    const error = stream.errored;
    if (error === null || stream.destroyed || this.#phase === 'destroyed') return;
    this.#failReady(error);
    this.#notifyStop(error);
    this.#queueTick(); // a consumer waiting on a readable side may be free now
  }

  /** Settles the waiting `Symbol.asyncDispose` calls. */
  #notifyStop(error: Error | null): void {
    for (const onStop of this.#stopWaiters) onStop(error);
    this.#stopWaiters.clear();
  }

  /** `_write`: admits the chunk; its callback waits for the drain at or above the limit. */
  write(chunk: unknown, callback: WriteCallback): void {
    // A marker comes alone only for an empty group (writeV corks a group's
    // marker with its chunks, so Node hands those to writev).
    const marker = this.#groupCountOf(chunk) >= 0;
    if (!marker && this.#sizeOf !== null) {
      this.#writeWeighed(chunk, callback);
      return;
    }
    const count = marker ? this.#markerCount() : this.#accumulator.unitsOf(chunk);
    if (marker) this.#countEmptyGroup();
    else this.#admit(chunk, count);
    this.#scheduleMaybe();
    this.#callbackNode(callback, count);
  }

  /** `_writev`: admits every entry, in order; the callback as for `write`. */
  writev(entries: readonly WritevEntry[], callback: WriteCallback): void {
    const countBefore = this.#admittedCount();
    if (this.#sizeOf !== null) {
      if (!this.#admitAllWeighed(entries, callback)) return;
    } else {
      this.#admitAll(entries);
    }
    this.#scheduleMaybe();
    this.#callbackNode(callback, this.#admittedCount() - countBefore);
  }

  /** Whether a write returned false and its 'drain' has not come yet. */
  get needDrain(): boolean {
    return this.#needDrain;
  }

  /**
   * Whether a 'drain' about to be emitted reaches listeners. Node emits its
   * own once its queue empties, even while the core still holds more than
   * the limit: that one is early (write() would still say false) and a
   * second would follow for the same false. It is dropped; the core's comes
   * when the backlog is below the limit.
   */
  drainPasses(): boolean {
    return !this.#needDrain;
  }

  /** `_final` / `_flush`: hands the rest over; `callback` runs once it all settled (docs/semantics.md 9). */
  end(callback: WriteCallback): void {
    /* c8 ignore start: Node calls _final only on a live stream; kept so a
       stray call cannot leave an ending core behind a destroyed one */
    if (this.#phase === 'destroyed') {
      callback(this.#error ?? streamDestroyed('end'));
      return;
    }
    /* c8 ignore stop */
    this.#phase = 'ending';
    this.#writeOpen = false;
    this.#refreshFastPath();
    this.#queueTick();
    // The end may complete only after the ticks already queued when end()
    // was called (write callbacks among them): one of those may still fail
    // the stream, as it would fail a plain Writable whose _final completes
    // later, and end()'s callback must then get that error.
    process.nextTick(this.#onEndTick, callback);
  }

  /**
   * `_destroy`: stops for good. Every waiter settles with the error, or with
   * `ERR_STREAM_DESTROYED` when there is none; every timer is cleared.
   */
  destroy(error: Error | null): void {
    if (this.#phase === 'destroyed') return;
    this.#phase = 'destroyed';
    this.#writeOpen = false;
    this.#refreshFastPath();
    this.#dueCallbacks = null;
    if (error !== null && this.#error === null) this.#error = error;
    this.#clearTimers();
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiters) waiter.reject(error ?? streamDestroyed('flush'));
    this.#failReady(this.#error ?? streamDestroyed('ready'));
    this.#notifyStop(error);
    // Callbacks already on their way out (a drain tick is queued: the stream
    // got below its limit) keep their place and go out on it, with null, as
    // the callbacks of writes a sink took; later callback ticks may be
    // queued behind it. Those still held carry the error, below.
    const held = this.#heldCallbacks;
    this.#heldCallbacks = [];
    this.#nodeHeld = null;
    // Node's destroy() settles end() callbacks itself (with `errored`, or
    // ERR_STREAM_DESTROYED) and ignores _final's: it is dropped.
    this.#finalCallback = null;
    // Held callbacks' chunks were copied, which is what a write callback
    // reports: they carry the stream's error, or none (as Node's callback
    // of a write its sink took; an error here would set `errored`). On the
    // next tick, as Node settles its own queued writes, and ahead of them:
    // the faces call this before Node's destroy() queues its own.
    if (held.length === 0) return;
    // Those callbacks stand for Node's write callback tick: an end(callback)
    // made before it runs is failed after it (endArguments).
    this.#dueTicks++;
    process.nextTick(this.#onHeldFailTick, held, error);
  }

  /** The readable side can take a batch again (`_read`). */
  onCanTakeBatch(): void {
    if (this.#phase === 'destroyed') return;
    this.#freeMaybe();
    this.#pump();
  }

  // ---- Public methods the faces forward ----------------------------------

  /**
   * `flush()`: hands over what is pending now, ignoring `maxDelay`, and
   * resolves once everything written before the call has settled (docs/semantics.md 8).
   */
  flush(): Promise<void> {
    if (this.#phase === 'destroyed') {
      // docs/semantics.md 8: after 'finish' nothing is pending, though autoDestroy has
      // destroyed the stream since; only a stream stopped early fails.
      if (this.#error === null && this.#host.stream.writableFinished) return Promise.resolve();
      return Promise.reject(this.#error ?? streamDestroyed('flush'));
    }
    // Counted so far: admitted, plus what Node still queues (a held
    // Node write is in both, hence the subtraction).
    const target = this.#admittedCount() + this.#host.stream.writableLength - this.#nodeHeldCount;
    if (target <= this.#settledCount) return Promise.resolve();
    if (target > this.#flushTarget) this.#flushTarget = target;
    const promise = new Promise<void>((resolve, reject) => {
      this.#flushWaiters.push({ target, resolve, reject });
    });
    this.#queueTick();
    return promise;
  }

  /**
   * `ready()`: resolves when `write()` would accept data without the caller
   * waiting, at once or on the next 'drain'. Every caller shares one promise
   * per drain cycle, so thousands of producers add one listener, not
   * thousands. Rejects if the stream ends or is destroyed first.
   */
  ready(): Promise<void> {
    const stream = this.#host.stream;
    if (stream.destroyed) return Promise.reject(this.#error ?? streamDestroyed('ready'));
    if (stream.writableEnded) return Promise.reject(writeAfterEnd());
    if (!stream.writableNeedDrain) return Promise.resolve();
    if (this.#readyWaiter === null) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((onResolve, onReject) => {
        resolve = onResolve;
        reject = onReject;
      });
      this.#readyWaiter = { promise, resolve, reject };
      stream.once('drain', this.#onReadyDrain);
    }
    return this.#readyWaiter.promise;
  }

  /** The waiting `ready()` callers fail: the stream ended or was destroyed, no 'drain' will come. */
  #failReady(error: Error): void {
    const waiter = this.#readyWaiter;
    if (waiter === null) return;
    this.#readyWaiter = null;
    this.#host.stream.off('drain', this.#onReadyDrain);
    waiter.reject(error);
  }

  /**
   * The face's `end()` returned without throwing: from now on Node's own
   * write() fails every chunk, so none may take the fast path (Node may run
   * `_final` only later, once a held write callback is released), and a
   * waiting `ready()` fails as a write would.
   */
  endCalled(): void {
    const taken = this.#endTaken;
    if (taken !== null) {
      this.#endTaken = null;
      if (this.#dueTicks > 0) this.#endCallbacksDue.push(taken);
      else process.nextTick(taken, streamDestroyed('end'));
    }
    this.#erroredMaybe(); // end(chunk) after end()
    if (!this.#host.stream.writableEnded) return;
    this.#writeOpen = false;
    this.#refreshFastPath();
    this.#failReady(writeAfterEnd());
  }

  /**
   * `Symbol.asyncDispose`: ends the stream and waits until everything written
   * was handed over ('finish'), instead of Node's default of destroying it
   * and losing what is pending. A stream already destroyed is left as it is;
   * one destroyed meanwhile settles it too: a rejection with the error it
   * was destroyed with, if any.
   */
  async dispose(): Promise<void> {
    const stream = this.#host.stream;
    if (stream.destroyed) return;
    // Errored but kept alive (autoDestroy: false): it will never finish.
    if (stream.errored !== null) throw stream.errored;
    if (!stream.writableEnded) stream.end();
    if (stream.writableFinished || this.#phase === 'destroyed') return;
    await new Promise<void>((resolve, reject) => {
      const onStop = (error: Error | null): void => {
        stream.off('finish', onFinish);
        if (error === null) resolve();
        else reject(error);
      };
      const onFinish = (): void => {
        this.#stopWaiters.delete(onStop);
        resolve();
      };
      stream.once('finish', onFinish);
      this.#stopWaiters.add(onStop);
    });
  }

  /**
   * `writeV()`: the chunks enter Node's queue back to back, behind a marker
   * that tells the core to keep them in one batch when they fit (docs/semantics.md 7).
   * Corking keeps them in one `_writev` call and lets no other write between.
   */
  writeV(chunks: readonly unknown[], callback?: WriteCallback): boolean {
    // A bad chunk rejects the whole group before any of it is written.
    checkGroup(chunks, callback, this.#objectMode);
    const stream = this.#host.stream;
    if (chunks.length === 1) return stream.write(chunks[0], callback);
    const fast = this.#tryAdmitGroup(chunks, callback);
    if (fast !== undefined) return fast;
    if (chunks.length === 0 || stream.writableEnded || stream.destroyed) {
      // A write of nothing, in write order; after end() or destroy() it
      // fails exactly as write() fails: Node's own error, callback and 'error'.
      return stream.write(groupMarker(0, this.#objectMode), callback);
    }
    let ok: boolean;
    stream.cork();
    try {
      stream.write(groupMarker(chunks.length, this.#objectMode));
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) stream.write(chunks[i]);
      ok = stream.write(chunks[last], callback);
    } finally {
      stream.uncork();
    }
    // The group went in at uncork() (or waits in Node's queue): count it now.
    return this.nodeWriteResult(ok);
  }

  /**
   * writeV()'s fast path: while write() could take each chunk itself (nothing
   * corked or queued in Node, every chunk one the fast path takes), the group
   * goes in at once, by the rule of #admitAll, with no marker and no trip
   * through Node's queue (callgrind, a 4 B header and a 60 B body: 7089 ->
   * 3423 instructions a group). Returns write()'s result, or undefined when
   * Node's queue must take the group.
   */
  #tryAdmitGroup(chunks: readonly unknown[], callback: WriteCallback | undefined): boolean | undefined {
    if (!this.#mayBypassNode() || !this.#mayTakeCallback(callback)) return undefined;
    if (this.#sizeOf !== null) return this.#tryAdmitGroupWeighed(chunks, callback);
    const units = this.#groupUnits;
    units.length = 0;
    let total = 0;
    for (const chunk of chunks) {
      const chunkUnits = this.#fastUnitsOf(chunk, undefined);
      if (chunkUnits < 0) return undefined;
      units.push(chunkUnits);
      total += chunkUnits;
    }
    this.#makeRoomForGroup(total);
    for (let i = 0; i < chunks.length; i++) this.#admit(chunks[i], units[i]);
    return this.#fastWriteResult(callback);
  }

  // ---- Admission: units into the open batch --------------------------------

  /** Puts a chunk into the open batch, shelving that first when the chunk does not fit. */
  #admit(chunk: unknown, units: number): void {
    if (units === 0) return; // docs/semantics.md 6: zero bytes make no batch
    this.#makeRoom(units);
    if (typeof chunk === 'string' && !this.#objectMode) {
      // Strings come only from the fast path (Node's path hands Buffers),
      // which takes them only in an encoding it sizes exactly.
      (this.#bytes as ByteAccumulator).addString(chunk, this.#stringEncoding as BufferEncoding, units);
    } else {
      this.#accumulator.add(chunk);
    }
  }

  /**
   * Makes room for `units` more: docs/semantics.md 3, a chunk is never split, so one that
   * does not fit shelves the open batch; one of `size` or more goes alone into
   * an empty batch. A new batch's first write starts its maxDelay timer.
   */
  #makeRoom(units: number): void {
    const length = this.#accumulator.length;
    if (length > 0) {
      if (length + units <= this.#size) return;
      this.#shelve();
    }
    this.#startDelay();
  }

  /** A new batch's first write starts its maxDelay timer. */
  #startDelay(): void {
    if (this.#maxDelay > 0 && this.#maxDelay !== Infinity) {
      this.#timer = setTimeout(this.#onDelayElapsed, this.#maxDelay);
    }
  }

  /**
   * docs/semantics.md 7: a group that fits in one batch but not in the open one's room
   * starts a new batch; one larger than `size` is placed chunk by chunk.
   */
  #makeRoomForGroup(total: number): void {
    const length = this.#accumulator.length;
    if (total <= this.#size && length > 0 && length + total > this.#size) this.#shelve();
  }

  /** Moves the open batch to the full ones, behind the consumer: it goes next. */
  #shelve(): void {
    const length = this.#accumulator.length;
    const bytes = this.#openBytes;
    const count = this.#openCount();
    this.#fullBatches.push({ batch: this.#accumulator.take(), length, count, bytes });
    this.#fullCount += count;
    this.#fullLength += length;
    this.#fullBytes += bytes;
    this.#openBytes = 0;
    this.#openMarkers = 0;
    this.#clearDelay();
  }

  /** Admits Node's entries in order, placing each group as docs/semantics.md 7 asks. */
  #admitAll(entries: readonly WritevEntry[]): void {
    const accumulator = this.#accumulator;
    for (let index = 0; index < entries.length; index++) {
      const chunk = entries[index].chunk;
      const count = this.#groupCountOf(chunk);
      if (count < 0) {
        this.#admit(chunk, accumulator.unitsOf(chunk));
        continue;
      }
      if (count === 0) {
        this.#countEmptyGroup();
        continue;
      }
      let total = 0;
      const end = Math.min(entries.length, index + 1 + count);
      for (let i = index + 1; i < end; i++) total += accumulator.unitsOf(entries[i].chunk);
      this.#makeRoomForGroup(total);
      // Node counts the marker as one item of writableLength in object mode; so do we.
      this.#openMarkers += this.#markerCount();
    }
  }

  /**
   * An empty group's marker holds nothing, but Node counted it (one item in
   * object mode), and so does a `flush()` target taken while it waited in
   * Node's queue: it settles with the open batch, or with the batch the
   * consumer has, or at once.
   */
  #countEmptyGroup(): void {
    const count = this.#markerCount();
    if (count === 0) return;
    // Full batches always have an open one behind them (shelving makes room
    // for a chunk that goes in next), so an empty open batch means no batch
    // waits: only the one with the consumer, if any, is not settled.
    if (this.#accumulator.length > 0) {
      this.#openMarkers += count;
    } else {
      this.#handedOverCount += count;
      const out = this.#out;
      if (out.length > 0) {
        out[out.length - 1].count += count;
      } else {
        this.#settledCount += count;
        this.#resolveFlushWaiters();
      }
    }
  }

  // ---- Backpressure and held callbacks -----------------------------------

  /**
   * Bytes or items admitted and not yet handed over: the open and the full
   * batches. (Not a count: an object-mode group marker holds no memory.)
   */
  #backlog(): number {
    return this.#fullLength + this.#accumulator.length;
  }

  /**
   * True while the backlog, with `nodeQueued` more items or bytes Node still
   * queues, is below the limit: `#limit` units, and with `maxBytes` also
   * `#bytesLimit` bytes as `sizeOf` weighs them (docs/semantics.md 12, 22).
   */
  #belowLimit(nodeQueued: number): boolean {
    return this.#backlog() + nodeQueued < this.#limit && this.#fullBytes + this.#openBytes < this.#bytesLimit;
  }

  /** The count Node queues and we have not admitted (while corked, or behind a held write). */
  #nodeQueued(): number {
    return this.#host.stream.writableLength - this.#nodeHeldCount;
  }

  /**
   * write()'s result once its chunk is in, or in Node's queue (`nodeQueued`,
   * a count; none on the fast path): false, and then a 'drain' owed, at or
   * above the limit.
   */
  #okOrOweDrain(nodeQueued = 0): boolean {
    if (this.#belowLimit(nodeQueued)) return true;
    this.#needDrain = true;
    return false;
  }

  /**
   * Calls Node's write callback now, or holds it for the drain when the
   * backlog is at or above the limit: then Node queues further writes, and
   * writers who wait for their callbacks are held back too. `count`: the
   * write's, as Node counts it in writableLength.
   */
  #callbackNode(callback: WriteCallback, count: number): void {
    this.#dueCallbacks = null; // Node queues its own callback tick
    if (this.#belowLimit(0) && this.#heldCallbacks.length === 0) {
      const first = !this.#nodeTickPending;
      this.#nodeTickPending = true;
      this.#releaseClosed = this.#releasing !== null;
      callback(); // Node queues its callback tick here
      if (first) process.nextTick(this.#onNodeTickDone);
      return;
    }
    this.#nodeHeld = callback;
    this.#refreshFastPath();
    this.#nodeHeldCount = count;
    this.#heldCallbacks.push(callback);
  }

  /** Below the limit again: held callbacks and the owed 'drain' go out on the next tick. */
  #drainMaybe(): void {
    if (this.#phase === 'destroyed' || !this.#belowLimit(0)) return;
    const held = this.#heldCallbacks;
    if (this.#releasing !== null) {
      // A drain tick is queued: these go out with it, after the older ones
      // (or, behind a later callback tick, on a drain tick of their own).
      if (this.#releaseClosed) return;
      for (const callback of held) this.#releasing.push(callback);
    } else if (held.length > 0 || this.#needDrain) {
      this.#releasing = held;
      process.nextTick(this.#onDrainTick);
    } else {
      return;
    }
    this.#heldCallbacks = [];
  }

  /** Every held callback, those already on their way out first; none is held after. */
  #takeHeld(): WriteCallback[] {
    const held =
      this.#releasing === null ? this.#heldCallbacks : [...this.#releasing, ...this.#heldCallbacks];
    this.#releasing = null;
    this.#releaseClosed = false;
    this.#heldCallbacks = [];
    return held;
  }

  /**
   * A fast-path write's callback: on the next tick (one tick for a run of
   * writes with the same callback), or held for the drain when write() said
   * false.
   */
  #callbackFast(callback: unknown, ok: boolean): void {
    if (typeof callback !== 'function') return;
    const due = this.#dueCallbacks;
    if (!ok || this.#heldCallbacks.length > 0) {
      // Held for the drain; or written while earlier callbacks are held
      // (from inside onBatch, before the drain tick is queued): it goes out
      // after them, in write order.
      this.#dueCallbacks = null;
      this.#heldCallbacks.push(callback as WriteCallback);
    } else if (due !== null && due.callback === callback) {
      due.count++;
    } else {
      const next: DueCallbacks = { callback: callback as WriteCallback, count: 1 };
      this.#dueCallbacks = next;
      process.nextTick(this.#onDueTick, next);
      this.#dueTicks++;
      this.#releaseClosed = this.#releasing !== null;
    }
  }

  /** False for a callback that must take Node's path to keep write order (see #nodeTickPending). */
  #mayTakeCallback(callback: unknown): boolean {
    return !this.#nodeTickPending || typeof callback !== 'function';
  }

  /** Calls the held callbacks on their way out, in write order. */
  #releaseHeld(): void {
    const callbacks = this.#releasing;
    if (callbacks === null) return;
    this.#releasing = null;
    this.#releaseClosed = false;
    for (const callback of callbacks) {
      if (callback === this.#nodeHeld) {
        this.#nodeHeld = null;
        this.#nodeHeldCount = 0;
        this.#refreshFastPath();
      }
      // Node's callback may hand us its queue again (re-entering writev):
      // our state is consistent here.
      callback(null);
    }
  }

  // ---- Hand-over: when, and how ------------------------------------------

  /**
   * Called inside `write()`: never hands over here, only arranges for it.
   * docs/semantics.md 5: a full batch goes this turn; otherwise, with
   * maxDelay 0, the next turn, so writes of the same turn go out together.
   */
  #scheduleMaybe(): void {
    // While the consumer is busy (the usual case under load) this is one
    // test; while a tick is queued, two: its pump hands over whatever is due
    // then (or a settlement or _read pumps later), so nothing to arrange.
    // With a consumer that takes each batch at once (AsyncBatchStream),
    // every write used to come here with a tick (one in three) or an
    // immediate (the others) already queued: the host is asked last, and
    // tryWrite's common case does not come here at all (#appendedResult).
    if (this.#busy || this.#tickQueued || this.#phase === 'destroyed') return;
    if (this.#accumulator.length === 0 && this.#fullBatches.length === 0) return;
    if (this.#isUrgent()) {
      if (this.#host.canTakeBatch()) this.#queueTick(); // else _read will pump
    } else if (this.#maxDelay === 0 && this.#immediate === null && this.#host.canTakeBatch()) {
      this.#immediate = setImmediate(this.#onImmediate);
    }
  }

  /** A batch must go without waiting: a full one, a flush, or the end. */
  #isUrgent(): boolean {
    return (
      this.#fullBatches.length > 0 ||
      this.#accumulator.length >= this.#size ||
      this.#flushTarget > this.#handedOverCount ||
      this.#phase === 'ending'
    );
  }

  /** The open batch may go now: with maxDelay 0 always, else once urgent or lingered. */
  #isDue(): boolean {
    return (
      this.#maxDelay === 0 || this.#delayElapsed || this.#isUrgent() || this.#openBytes >= this.#maxBytes
    );
  }

  #queueTick(): void {
    if (this.#tickQueued) return;
    this.#tickQueued = true;
    process.nextTick(this.#onTick);
  }

  /**
   * The one loop that moves data: hands batches over, full ones first, while
   * the consumer is free and a batch is due, owes a drain once the backlog is
   * below the limit, and finishes an ending stream. Runs from timers, ticks
   * and settlements only.
   */
  #pump(): void {
    while (this.#phase !== 'destroyed' && !this.#busy && this.#host.canTakeBatch()) {
      if (this.#fullBatches.length === 0) {
        if (this.#accumulator.length === 0 || !this.#isDue()) break;
        if (this.#releasing !== null) {
          // Producers wake on the drain tick just queued: the open batch,
          // not full, goes a tick later with what they write (bench:
          // AsyncBatchStream into a socket, 767 -> 1024 messages a batch).
          this.#queueTick();
          break;
        }
      }
      this.#handOver();
      this.#drainMaybe();
    }
    // Not due yet (maxDelay), or the consumer is busy or full: a timer, a
    // settlement or _read will pump again. (A destroyed core is not 'ending'.)
    if (this.#inFlight > 0 || this.#fullBatches.length > 0 || this.#accumulator.length > 0) return;
    if (this.#phase === 'ending' && this.#finalCallback !== null) this.#finish();
  }

  /** Hands the oldest batch to the consumer; settles at once if it returned no thenable. */
  #handOver(): void {
    let batch: B;
    let length: number;
    let bytes: number;
    let count: number;
    const full = this.#fullBatches.length > 0 ? this.#fullBatches.shift() : undefined;
    if (full !== undefined) {
      ({ batch, length, bytes, count } = full);
      this.#fullCount -= count;
      this.#fullLength -= length;
      this.#fullBytes -= bytes;
    } else {
      length = this.#accumulator.length;
      bytes = this.#openBytes;
      count = this.#openCount();
      batch = this.#accumulator.take();
      this.#openMarkers = 0;
      this.#openBytes = 0;
      this.#clearDelay();
    }
    if (bytes > this.#largestBatchBytes) this.#largestBatchBytes = bytes;
    this.#handedOverCount += count;
    const out: OutBatch = { count, settled: false };
    this.#out.push(out);
    this.#batches++;
    this.#batchedUnits += length;
    if (length > this.#largestBatch) this.#largestBatch = length;
    if (this.#busySince < 0) this.#busySince = performance.now();
    this.#inFlight++;
    this.#busy = this.#inFlight >= this.#concurrency;
    // Everything that touches what the consumer returned is inside the try:
    // a `then` getter may throw too. Promise.resolve() returns a native
    // promise as it is, and makes a foreign thenable safe: settled once, a
    // throwing `then` becomes a rejection.
    let settled: Promise<unknown> | null;
    try {
      const result = this.#host.deliver(batch);
      settled = isThenable(result) ? Promise.resolve(result) : null;
    } catch (error) {
      if (this.#afterCalls !== null) {
        this.#callGone(); // it destroyed the stream from inside
        return;
      }
      this.#inFlight--;
      this.#fail(error);
      return;
    }
    // A call that destroyed the stream from inside, with _destroy waiting for
    // the calls still running (concurrency > 1), is one that ended.
    if (settled === null) {
      if (this.#afterCalls !== null) this.#callGone();
      else this.#settle(out);
    } else if (this.#concurrency === 1) settled.then(this.#onSettled, this.#onFailed);
    else this.#awaitCall(settled, out);
  }

  /** With concurrency > 1 a settlement must know its batch: one pair of closures per batch. */
  #awaitCall(settled: Promise<unknown>, out: OutBatch): void {
    settled.then(
      () => this.#callEnded(out),
      (reason: unknown) => this.#callFailed(reason),
    );
  }

  /** An onBatch call settled: count it, and go on unless the stream is destroyed. */
  #callEnded(out: OutBatch): void {
    if (this.#phase === 'destroyed') {
      this.#callGone();
      return;
    }
    this.#settle(out);
    this.#pump();
  }

  /**
   * An onBatch call failed: the first failure destroys the stream; once it
   * is destroyed, a failure is only a call that ended (its error is ignored:
   * the stream's error is the first).
   */
  #callFailed(reason: unknown): void {
    if (this.#phase === 'destroyed') {
      this.#callGone();
      return;
    }
    this.#inFlight--;
    this.#fail(reason);
  }

  /** A call that ended after destroy: `_destroy` may go on once none runs. */
  #callGone(): void {
    this.#inFlight--;
    if (this.#inFlight > 0 || this.#afterCalls === null) return;
    const goOn = this.#afterCalls;
    this.#afterCalls = null;
    goOn();
  }

  /**
   * `_destroy`'s go-ahead: at once, or, with concurrency > 1, once the onBatch
   * calls still running have settled (docs/semantics.md 23), so that 'error'
   * and 'close' come when none runs any more. With concurrency 1 it is
   * always at once, as before the option existed.
   */
  afterCalls(goOn: () => void): void {
    if (this.#concurrency === 1 || this.#inFlight === 0) goOn();
    else this.#afterCalls = goOn;
  }

  /**
   * A batch settled: counts settle in hand-over order, so those of the
   * batches up to the oldest not settled yet do; release waiters whose data
   * is all through.
   */
  #settle(out: OutBatch): void {
    out.settled = true;
    this.#inFlight--;
    this.#busy = this.#inFlight >= this.#concurrency;
    this.#freeMaybe();
    const queue = this.#out;
    let done = 0;
    while (done < queue.length && queue[done].settled) this.#settledCount += queue[done++].count;
    if (done === queue.length) queue.length = 0;
    else if (done > 0) queue.splice(0, done);
    this.#resolveFlushWaiters();
  }

  /** Resolves the `flush()` calls whose units have all settled. */
  #resolveFlushWaiters(): void {
    const waiters = this.#flushWaiters;
    let done = 0;
    while (done < waiters.length && waiters[done].target <= this.#settledCount) {
      waiters[done].resolve();
      done++;
    }
    if (done > 0) waiters.splice(0, done);
  }

  /** Closes the busy period once the consumer is settled and can take a batch again (BatchStats). */
  #freeMaybe(): void {
    if (this.#busySince < 0 || this.#inFlight > 0 || !this.#host.canTakeBatch()) return;
    const elapsed = performance.now() - this.#busySince;
    this.#busySince = -1;
    this.#busyMs += elapsed;
    this.#lastBusyMs = elapsed;
    if (elapsed > this.#maxBusyMs) this.#maxBusyMs = elapsed;
  }

  #finish(): void {
    this.#phase = 'ended';
    this.#clearTimers();
    // Everything is handed over: no write callback waits past the end.
    this.#releasing = this.#takeHeld();
    this.#releaseHeld();
    const callback = this.#finalCallback;
    this.#finalCallback = null;
    if (callback !== null) callback(null);
  }

  /** The consumer failed: store the error once and destroy the stream with it. */
  #fail(reason: unknown): void {
    const error = asError(reason);
    if (this.#error === null) this.#error = error;
    // destroy() comes back to this.destroy() through the face's _destroy.
    this.#host.stream.destroy(error);
    // A face that has already been destroyed does not call _destroy again.
    this.destroy(error);
  }

  /** Clears the open batch's maxDelay timer: the batch is leaving. */
  #clearDelay(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#delayElapsed = false;
  }

  #clearTimers(): void {
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#immediate = null;
    this.#clearDelay();
  }

  // ---- Object mode's byte limit (docs/semantics.md 22) ---------------------

  /**
   * The bytes `sizeOf` gives an item, or -1 once it threw or gave anything
   * but a non-negative safe integer: the stream is then destroyed with that
   * error (the item is in no batch), and `callback`, the write's, is held so
   * that destroy() fails it with the error, after earlier callbacks.
   */
  #weigh(item: unknown, callback: unknown): number {
    let weight: unknown;
    let error: Error | null = null;
    try {
      weight = (this.#sizeOf as (item: unknown) => number)(item);
    } catch (thrown) {
      error = asError(thrown);
    }
    if (error === null) {
      if (typeof weight === 'number' && Number.isSafeInteger(weight) && weight >= 0) return weight;
      error = invalidReturnValue('a non-negative safe integer', 'options.sizeOf', weight);
    }
    if (typeof callback === 'function') {
      this.#dueCallbacks = null;
      this.#heldCallbacks.push(callback as WriteCallback);
    }
    this.#fail(error);
    return -1;
  }

  /** #tryAdmit with `maxBytes`: weighs the item first. */
  #tryAdmitWeighed(item: unknown, callback: unknown): boolean {
    const weight = this.#weigh(item, callback);
    if (weight < 0) return false;
    this.#admitWeighed(item, weight);
    return this.#fastWriteResult(callback);
  }

  /** `_write` with `maxBytes`. */
  #writeWeighed(item: unknown, callback: WriteCallback): void {
    const weight = this.#weigh(item, callback);
    if (weight < 0) return;
    this.#admitWeighed(item, weight);
    this.#scheduleMaybe();
    this.#callbackNode(callback, 1);
  }

  /**
   * An item into the open batch, which is shelved first when the item would
   * take it past `size` items or `maxBytes` bytes; an item heavier than
   * `maxBytes` goes alone.
   */
  #admitWeighed(item: unknown, weight: number): void {
    const length = this.#accumulator.length;
    if (length === 0) {
      this.#startDelay();
    } else if (length + 1 > this.#size || this.#openBytes + weight > this.#maxBytes) {
      this.#shelve();
      this.#startDelay();
    }
    this.#accumulator.add(item);
    this.#openBytes += weight;
    // Full by bytes: due this turn, as a batch full by items (docs/semantics.md
    // 5). Tested here, not in #isUrgent, which write() reaches on every call.
    if (this.#openBytes >= this.#maxBytes && !this.#busy) this.#queueTick();
  }

  /**
   * docs/semantics.md 7 with `maxBytes`: a group that fits in one batch by
   * both limits, but not in the open one's room, starts a new batch.
   */
  #makeRoomForGroupWeighed(items: number, bytes: number): void {
    const length = this.#accumulator.length;
    if (items > this.#size || bytes > this.#maxBytes || length === 0) return;
    if (length + items > this.#size || this.#openBytes + bytes > this.#maxBytes) this.#shelve();
  }

  /** Weighs a group's items into `#groupUnits`; false once one failed (see #weigh). */
  #weighGroup(items: readonly unknown[], from: number, to: number, callback: unknown): boolean {
    const weights = this.#groupUnits;
    weights.length = 0;
    for (let i = from; i < to; i++) {
      const weight = this.#weigh(items[i], callback);
      if (weight < 0) return false;
      weights.push(weight);
    }
    return true;
  }

  /** #tryAdmitGroup with `maxBytes`: every item is weighed before any goes in. */
  #tryAdmitGroupWeighed(items: readonly unknown[], callback: WriteCallback | undefined): boolean | undefined {
    if (!this.#weighGroup(items, 0, items.length, callback)) return false;
    const weights = this.#groupUnits;
    let total = 0;
    for (const weight of weights) total += weight;
    this.#makeRoomForGroupWeighed(items.length, total);
    for (let i = 0; i < items.length; i++) this.#admitWeighed(items[i], weights[i]);
    return this.#fastWriteResult(callback);
  }

  /**
   * #admitAll with `maxBytes`: every entry is weighed before any goes in, so a
   * bad weight leaves no part of Node's batch of writes in a batch. False
   * when one failed (the stream is destroyed).
   */
  #admitAllWeighed(entries: readonly WritevEntry[], callback: WriteCallback): boolean {
    const items: unknown[] = [];
    for (const entry of entries) items.push(entry.chunk);
    const weights: number[] = [];
    for (const item of items) {
      if (this.#groupCountOf(item) >= 0) {
        weights.push(0);
        continue;
      }
      const weight = this.#weigh(item, callback);
      if (weight < 0) return false;
      weights.push(weight);
    }
    for (let index = 0; index < items.length; index++) {
      const count = this.#groupCountOf(items[index]);
      if (count < 0) {
        this.#admitWeighed(items[index], weights[index]);
        continue;
      }
      if (count === 0) {
        this.#countEmptyGroup();
        continue;
      }
      const end = Math.min(items.length, index + 1 + count);
      let total = 0;
      for (let i = index + 1; i < end; i++) total += weights[i];
      this.#makeRoomForGroupWeighed(end - index - 1, total);
      this.#openMarkers += this.#markerCount();
    }
    return true;
  }

  // ---- writeV helpers ----------------------------------------------------

  /** The chunk count of a group marker, or -1 for a user chunk. */
  #groupCountOf(chunk: unknown): number {
    return groupCountOf(chunk, this.#objectMode);
  }

  /** Count admitted into the open batch: its units, and object-mode group markers. */
  #openCount(): number {
    return this.#accumulator.length + this.#openMarkers;
  }

  /** Counts ever admitted: handed over, in full batches, and in the open one. */
  #admittedCount(): number {
    return this.#handedOverCount + this.#fullCount + this.#openCount();
  }

  /** What Node counts for a group marker: one item in object mode, zero bytes otherwise. */
  #markerCount(): number {
    return this.#objectMode ? 1 : 0;
  }
}
