import { Buffer } from 'node:buffer';
import process from 'node:process';
import { addAbortSignal, finished, Writable, type WritableOptions } from 'node:stream';
import { isMainThread, MessagePort, threadId } from 'node:worker_threads';
import type { WriteCallback, WritevEntry } from '../batch-core';
import {
  invalidArgType,
  invalidArgValue,
  invalidState,
  outOfRange,
  streamDestroyed,
  writeAfterEnd,
} from '../errors';
import {
  CONTROL_READER_STATE,
  CONTROL_READER_THREAD,
  CONTROL_SLOTS,
  READER_CLOSED,
  RECORD_GROUP_CONTINUES,
  RECORD_MORE,
} from './layout';
import { isRing, reached, RingWriter } from './ring';
import {
  checkGroup,
  defineNeedDrain,
  destroyAfterOurs,
  finalAfterOurs,
  groupCountOf,
  groupMarker,
  takeEndCallback,
} from '../node-shims';

/**
 * What a writer thread needs to write into a `WorkerChannel`: pass it to the
 * worker (e.g. in `workerData`) with `port` in the `transferList`, and open
 * it there with `new WorkerWritable(handle)`. One handle feeds one writable.
 */
export interface WorkerWriterHandle {
  /** The writer's id on the channel, as `'writerEnd'` reports it. */
  readonly id: number;
  /** The channel's batch size: groups up to this many bytes stay whole. */
  readonly size: number;
  /** The channel's control block, shared by the reader and every writer. */
  readonly control: SharedArrayBuffer;
  /** This writer's ring, shared with the reader only. */
  readonly ring: SharedArrayBuffer;
  /**
   * Tells the reader when this writer's thread goes away (its peer emits
   * `'close'` on exit, `terminate()` or a crash), and this writer when the
   * reader does. Must be in the Worker's `transferList`.
   */
  readonly port: MessagePort;
}

/**
 * Options of `new WorkerWritable(handle, options)`, on top of Node's own.
 * Node's `final` runs once the reader has taken every write, before
 * `'finish'`; `destroy` once the stream has stopped (both after this
 * class's own steps, as on `BatchingWritable`).
 */
export interface WorkerWritableOptions extends Omit<
  WritableOptions,
  'write' | 'writev' | 'objectMode' | 'decodeStrings'
> {
  /**
   * Block the thread with `Atomics.wait` while the ring is full, instead of
   * holding the write and returning false. Only on a worker thread other
   * than the channel's reader thread (there it would deadlock): a RangeError
   * elsewhere. Default false.
   */
  blocking?: boolean | undefined;
  /**
   * When this writer wakes a sleeping reader (docs/workers.md, "Waking the
   * reader"). `'batched'` (default): once a quarter of the ring waits in
   * it, at the end of this thread's event-loop turn, or when this writer
   * waits for the reader or ends, whichever comes first: one wake-up per
   * quarter ring while it streams, but a writer that keeps its thread busy
   * after a small write delays that write by as long.
   * `'eager'`: at every publish (one cross-thread notify per write while the
   * reader is idle).
   */
  wake?: 'batched' | 'eager' | undefined;
}

/** A write waiting for ring space: Node's entries from `index` on, and Node's callback. */
interface HeldWrite {
  readonly entries: readonly WritevEntry[];
  index: number;
  readonly callback: WriteCallback;
}

/**
 * A unit too large for the ring even when empty, sent as fragments as space
 * frees up; the reader reassembles each message.
 */
interface Oversize {
  /** The unit's messages: one, or one per chunk of a group larger than `size`. */
  readonly messages: readonly Buffer[];
  /** Index after the unit in the held entries. */
  readonly end: number;
  /** The message being sent, and how far. */
  message: number;
  offset: number;
}

/** `flush()` or `end()` waiting for the reader to take everything up to these cursors. */
interface TailWaiter {
  readonly records: number;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const EMPTY = Buffer.alloc(0);

function noop(): void {}

/**
 * The writer side of a `WorkerChannel`: a `stream.Writable` of bytes
 * (Buffers, Uint8Arrays, strings) whose writes are copied straight into this
 * thread's ring in shared memory, with no `postMessage`.
 *
 * A write is published (visible to the reader) as soon as its bytes are
 * copied, and its callback fires then. When the ring is full the write is
 * held, `write()` returns false, and `'drain'` follows once the reader has
 * freed space. `end()` finishes once the reader has taken everything.
 */
export class WorkerWritable extends Writable {
  /** The writer's id on the channel (the handle's). */
  readonly writerId: number;
  /** The ring: reserve, copy, publish. */
  readonly #ring: RingWriter;
  /** The channel's control block: the reader's state. */
  readonly #control: Int32Array;
  /** Closes when the reader goes away; ref'd only while this writer waits on the reader. */
  readonly #port: MessagePort;
  /** The channel's batch size: a group up to this size is one message (docs/semantics.md 7). */
  readonly #size: number;
  /** Wait with `Atomics.wait` instead of holding the write (blocking mode). */
  readonly #blocking: boolean;
  /**
   * True unless Node's `write()` must see every chunk for good: a
   * `construct` step (Node queues writes until it is done) or a
   * `highWaterMark` of 0 (where Node versions differ on what `write()`
   * returns: left to the running Node).
   */
  readonly #mayBypassNode: boolean;
  /**
   * True while `write()` may skip Node's `write()` (see `#fastWrite`): Node
   * may be bypassed, and the stream is not corked, ending, ended, errored or
   * destroyed. Kept in step by the `cork()`, `uncork()` and `end()` hooks,
   * `_destroy`, and `#failReaderGone` (a held write's callback, failed
   * there, may write again before the stream is destroyed).
   */
  #fastOpen = false;
  /** Calls of `end()` under way: Node's `end()` uncorks before it sets its ending state. */
  #endCalls = 0;

  /** The write waiting for ring space; at most one, as Node never calls `_write` before the callback. */
  #held: HeldWrite | null = null;
  /** Index slots and data bytes the held write's next unit needs free. */
  #needRecords = 0;
  #needBytes = 0;
  /** The unit of the held write being sent as fragments, or null. */
  #oversize: Oversize | null = null;
  /** `flush()` and `_final` calls waiting for the reader, targets in ascending order. */
  #tailWaiters: TailWaiter[] = [];
  /** True while an `Atomics.waitAsync` on the tail is pending; never two at once. */
  #tailWaitPending = false;
  /** True once the reader's port closed: nothing will free space any more. */
  #readerGone = false;
  /**
   * True when `write()` returned false because a write is held while Node's
   * own buffer was below `highWaterMark`: Node will not emit `'drain'` then,
   * so this stream owes one.
   */
  #drainOwed = false;
  /**
   * Bytes a `reserve()` that returned null asked for: the reader is waited
   * for until that much is free, then `'drain'` is emitted; 0 when none.
   */
  #roomWanted = 0;

  // Bound once, so no write allocates a closure.
  readonly #onTailMoved = (): void => {
    this.#tailWaitPending = false;
    this.#port.unref();
    this.#service();
  };
  readonly #onPortClose = (): void => {
    this.#readerGone = true;
    if (this.#tailWaitPending) this.#ring.wakeOwnWait();
  };
  readonly #emitDrain = (): void => {
    if (!this.destroyed && !this.writableEnded) this.emit('drain');
  };

  static {
    // Node's pipe() asks `writableNeedDrain` before writing; it must know about
    // the drain we owe. Defined here, as @types/node declares it a property.
    defineNeedDrain(WorkerWritable.prototype, (stream) => stream.#drainOwed);
    // Node's own, then the fast path follows the state they changed. Defined
    // on the prototype, so the declarations stay Writable's own overloads
    // (end() is a method below: it is typed narrower).
    const { cork, uncork } = Writable.prototype;
    const hooks = {
      cork(this: WorkerWritable): void {
        cork.call(this);
        this.#refreshFastPath();
      },
      uncork(this: WorkerWritable): void {
        // Node hands its queue over first (to _writev): the fast path waits until it has.
        uncork.call(this);
        this.#refreshFastPath();
      },
    };
    for (const [key, value] of Object.entries(hooks)) {
      Object.defineProperty(WorkerWritable.prototype, key, {
        configurable: true,
        enumerable: false,
        writable: true,
        value,
      });
    }
  }

  /**
   * @param handle - from `WorkerChannel.createWriter()`, received by this thread.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for a handle that is not one,
   *   or a non-boolean `blocking`.
   * @throws TypeError `ERR_INVALID_ARG_VALUE` for a `wake` other than
   *   `'batched'` or `'eager'`.
   * @throws Error `ERR_INVALID_STATE` for a handle opened before (one handle
   *   feeds one writable).
   * @throws RangeError `ERR_OUT_OF_RANGE` for `blocking: true` on the main
   *   thread or on the channel's reader thread.
   */
  constructor(handle: WorkerWriterHandle, options: WorkerWritableOptions = {}) {
    checkHandle(handle);
    if (options === null || typeof options !== 'object') {
      throw invalidArgType('options', 'of type object', options);
    }
    const { blocking = false, wake = 'batched' } = options;
    if (typeof blocking !== 'boolean') throw invalidArgType('options.blocking', 'of type boolean', blocking);
    if (wake !== 'batched' && wake !== 'eager') {
      throw invalidArgValue('options.wake', "must be one of: 'batched', 'eager'", wake);
    }
    // Atomics.wait would freeze the main thread's event loop, and on the
    // reader's thread deadlock: the reader could never free the space.
    if (blocking && isMainThread) throw outOfRange('options.blocking', 'false on the main thread', blocking);
    if (blocking && Atomics.load(new Int32Array(handle.control), CONTROL_READER_THREAD) === threadId) {
      throw outOfRange(
        'options.blocking',
        `false on the channel's reader thread (threadId ${threadId}), where Atomics.wait would deadlock`,
        blocking,
      );
    }
    // An aborted signal makes Node destroy the stream from inside super(),
    // before this class's fields exist (and before the ring is claimed, so
    // its port would never close): it is added once they do.
    const abortedSignal =
      options.signal instanceof AbortSignal && options.signal.aborted ? options.signal : null;
    super({
      ...options,
      ...(abortedSignal === null ? {} : { signal: undefined }),
      objectMode: false,
      decodeStrings: true,
      write: undefined,
      writev: undefined,
      final: undefined,
      destroy: undefined,
    });
    this.#ring = new RingWriter(handle.control, handle.ring);
    if (!this.#ring.claim()) {
      throw invalidState(`writer handle ${handle.id} was opened before: one handle feeds one WorkerWritable`);
    }
    // After the claim: a second opening must not change the first writer's policy.
    if (wake === 'batched') this.#ring.setWakeBytes(this.#ring.capacity >>> 2);
    this.writerId = handle.id;
    this.#size = handle.size;
    this.#control = new Int32Array(handle.control);
    this.#blocking = blocking;
    this.#port = handle.port;
    this.#port.on('close', this.#onPortClose);
    this.#port.unref();
    this.#mayBypassNode =
      typeof (this as { _construct?: unknown })._construct !== 'function' && this.writableHighWaterMark > 0;
    this.#refreshFastPath();
    // Node would install these as our _final and _destroy: they run after ours instead.
    if (typeof options.final === 'function')
      finalAfterOurs(this, WorkerWritable.prototype._final, options.final);
    if (typeof options.destroy === 'function') destroyAfterOurs(this, options.destroy);
    if (abortedSignal !== null) addAbortSignal(abortedSignal, this); // destroys it, with Node's AbortError
  }

  /**
   * As `Writable.write()`, but also returns false when this write had to wait
   * for ring space; `'drain'` then follows once it is in the ring.
   */
  override write(chunk: string | ArrayBufferView, callback?: WriteCallback): boolean;
  /** As above; `encoding` names a string chunk's encoding (default: `defaultEncoding`). */
  override write(
    chunk: string | ArrayBufferView,
    encoding: BufferEncoding,
    callback?: WriteCallback,
  ): boolean;
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    if (
      this.#fastOpen &&
      encoding === undefined &&
      callback === undefined &&
      chunk instanceof Buffer &&
      this.#fastWrite(chunk)
    ) {
      return true;
    }
    this.#refuseOpenReservation('write');
    return this.#writeResult(super.write(chunk, encoding as BufferEncoding, callback));
  }

  /** As `Writable#end()`: `'finish'` once the reader has taken everything. */
  override end(callback?: () => void): this;
  /** As `Writable#end()`, writing `chunk` last. */
  override end(chunk: string | ArrayBufferView, callback?: () => void): this;
  /** As `Writable#end()`, writing `chunk` last, in `encoding`. */
  override end(chunk: string | ArrayBufferView, encoding: BufferEncoding, callback?: () => void): this;
  override end(chunk?: unknown, encoding?: unknown, callback?: unknown): this {
    // The fast path closed first: Node's end() may call _final and emit
    // 'prefinish' before it returns, and a listener's write() must fail as
    // Node's.
    this.#fastOpen = false;
    this.#endCalls++;
    try {
      this.#endNode(chunk, encoding, callback);
    } finally {
      this.#endCalls--;
      this.#refreshFastPath();
    }
    return this;
  }

  /** Node's `end()`, but a callback after `destroy()` is always called. */
  #endNode(chunk: unknown, encoding: unknown, callback: unknown): void {
    // After destroy() without an error Node 20 may never call end()'s
    // callback; here it always gets ERR_STREAM_DESTROYED, a tick after Node's
    // end() has returned (not if it throws), as BatchingWritable's.
    const taken = takeEndCallback(this, chunk, encoding, callback);
    // Node's end() sorts out its own overloads.
    const [c, e, cb] = taken === null ? [chunk, encoding, callback] : taken.args;
    super.end(c, e as BufferEncoding, cb as () => void);
    if (taken !== null) process.nextTick(taken.done, streamDestroyed('end'));
  }

  /**
   * `write()`'s fast path: a Buffer without encoding or callback, written
   * while Node holds nothing (`#fastOpen`, and no write held for ring space,
   * so nothing queued), goes straight into the ring, without Node's
   * `write()` and its bookkeeping. It takes only what Node's own `write()`
   * would take, pass to `_write` at once, see called back synchronously
   * without a tick to schedule, and answer `true` for (Node decides after
   * `_write` returns, its buffer empty again): a chunk of at least 1 byte
   * that fits in the ring now, with no reservation open and the reader not
   * closed. Anything else (a callback, a string, a full ring, a closed
   * reader, an error to raise) goes through Node's `write()`, with all its
   * checks. Returns false when it did not take the chunk.
   *
   * The reader's state is a plain read here, not an `Atomics.load` (a
   * builtin call, per write): this thread sees its own `destroy()` of the
   * channel at once, another thread's a moment late at most, so a write
   * racing the close may land in the ring and be dropped with it, as one
   * published just before the close is. Waits and held writes look with
   * `Atomics.load`.
   */
  #fastWrite(chunk: Buffer): boolean {
    const ring = this.#ring;
    if (
      this.#held !== null ||
      ring.hasUnpublished ||
      this.#control[CONTROL_READER_STATE] === READER_CLOSED ||
      !ring.placeRecord(chunk)
    ) {
      return false;
    }
    ring.publish();
    return true;
  }

  /** Recomputes `#fastOpen` after Node's corked, ending, errored or destroyed state may have changed. */
  #refreshFastPath(): void {
    this.#fastOpen =
      this.#mayBypassNode &&
      this.#endCalls === 0 &&
      this.writableCorked === 0 &&
      !this.writableEnded &&
      !this.destroyed &&
      this.errored === null;
  }

  /**
   * Reserves `length` bytes in the ring for one message and returns them, to
   * be filled in place: no allocation and no copy of the message. Nothing is
   * visible to the reader until `commit()`, which publishes every
   * reservation made since the last one, in order, each as one message (as
   * one `write()`). A writer that dies, ends or is destroyed before
   * `commit()` loses only its uncommitted reservations. The Buffer is shared
   * memory: do not keep it past `commit()`.
   *
   * Returns null when the ring has no room for it yet, or earlier writes are
   * still waiting for room; `'drain'` then follows once it has (in blocking
   * mode it blocks until then instead, and never returns null).
   *
   * @throws RangeError `ERR_OUT_OF_RANGE` unless `length` is an integer from
   *   1 to the ring's size (a larger message goes through `write()`).
   * @throws Error `ERR_INVALID_STATE` while corked; `ERR_STREAM_WRITE_AFTER_END`
   *   after `end()`; `ERR_STREAM_DESTROYED` once destroyed (or the reader is).
   */
  reserve(length: number): Buffer | null {
    const ring = this.#ring;
    if (!Number.isInteger(length) || length < 1 || length > ring.capacity) {
      throw outOfRange('length', `an integer >= 1 && <= ${ring.capacity} (the ring's size)`, length);
    }
    // While write() may take its fast path, none of these holds and Node
    // queues nothing: Node's getters are asked only otherwise.
    const open = this.#fastOpen;
    if (!open) {
      if (this.destroyed) throw streamDestroyed('reserve');
      if (this.writableEnded) throw writeAfterEnd();
      if (this.writableCorked > 0) throw invalidState('reserve() while corked: uncork() first');
    }
    // A plain read, as in #fastWrite.
    if (this.#control[CONTROL_READER_STATE] === READER_CLOSED) {
      const error = streamDestroyed('reserve');
      this.destroy(error);
      throw error;
    }
    // Earlier writes go first.
    if (this.#held !== null || (!open && this.writableLength > 0)) {
      this.#drainOwed = true;
      return null;
    }
    const view = ring.reserveView(length);
    if (view !== null) return view;
    if (this.#blocking) return this.#reserveBlocking(length);
    // Once the reader frees the room, 'drain' (after commit(), if the ring
    // is full of reservations not committed yet).
    this.#roomWanted = length;
    this.#service();
    return null;
  }

  /**
   * Publishes every reservation made since the last `commit()`: the reader
   * may take them from now on. A no-op when there is none.
   */
  commit(): void {
    this.#ring.publish();
  }

  /**
   * What `write()` and `writeV()` return, given Node's answer: false also
   * while a write waits for ring space, so true means the data is published
   * (unless the user corked the stream).
   */
  #writeResult(accepted: boolean): boolean {
    if (!accepted) {
      this.#drainOwed = false; // Node's own 'drain' will come, once for both
      return false;
    }
    if (this.#held === null) return true;
    this.#drainOwed = true;
    return false;
  }

  /**
   * Writes `chunks` as one group: back to back, nothing of this writer
   * between them, and in one batch when their total is at most the channel's
   * `size` (docs/semantics.md 7). A group that fits in the ring is published whole, so a
   * writer that dies mid-way never exposes part of it. An empty group still
   * calls `callback`.
   *
   * @returns false when the caller should wait for `'drain'`, as `write()`.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` if `chunks` is not an array, or
   *   for a chunk `write()` would refuse (then nothing is written).
   */
  writeV(chunks: readonly (ArrayBufferView | string)[], callback?: WriteCallback): boolean {
    this.#refuseOpenReservation('writeV');
    checkGroup(chunks, callback, false);
    const done = callback ?? noop;
    if (this.writableEnded || this.destroyed) return this.write(EMPTY, done); // fails as write() fails
    if (chunks.length === 0) {
      process.nextTick(done, null);
      return !this.writableNeedDrain;
    }
    if (chunks.length === 1) return this.write(chunks[0], done);
    // Corked, the marker and the chunks reach _writev together, with no
    // other write between them.
    this.cork();
    let accepted: boolean;
    try {
      super.write(groupMarker(chunks.length, false));
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) super.write(chunks[i]);
      accepted = super.write(chunks[last], done);
    } finally {
      this.uncork();
    }
    // Decided after uncork(): only then is the group placed, or held.
    return this.#writeResult(accepted);
  }

  /**
   * Resolves once the reader has taken (copied into a batch it pushed)
   * everything written before the call. After `end()`, resolves at
   * `'finish'`, which comes at the same point.
   *
   * @throws (rejects) with the stream's error, or `ERR_STREAM_DESTROYED`.
   */
  flush(): Promise<void> {
    // 'finish' came once the reader had it all (autoDestroy may follow).
    if (this.writableFinished) return Promise.resolve();
    if (this.destroyed) return Promise.reject(this.errored ?? streamDestroyed('flush'));
    return new Promise<void>((resolve, reject) => {
      if (this.writableEnded) {
        finished(this, { readable: false }, (error) => (error ? reject(error) : resolve()));
        return;
      }
      // An empty write's callback fires once every earlier write is in the ring.
      super.write(EMPTY, (error) => {
        if (error) reject(error);
        else this.#waitForReader(resolve, reject);
      });
    });
  }

  /** Node's hook behind `write()`; not for users to call. @internal */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    if (this.#readerClosed()) {
      this.#failWrite(callback);
      return;
    }
    // The common case first: a lone chunk that fits in the ring now.
    const length = chunk.length;
    if (length === 0) {
      callback();
      return;
    }
    const ring = this.#ring;
    if (length <= ring.capacity && ring.reserve(1, length)) {
      this.#copyRecord(chunk, 0);
      ring.publish();
      callback();
      if (this.#drainOwed) this.#drainMaybe();
      return;
    }
    this.#hold({ entries: [{ chunk }], index: 0, callback });
  }

  /** Node's hook behind `write()` and `writeV()`; not for users to call. @internal */
  override _writev(entries: WritevEntry[], callback: WriteCallback): void {
    if (this.#readerClosed()) {
      this.#failWrite(callback);
      return;
    }
    const held: HeldWrite = { entries, index: 0, callback };
    if (this.#advance(held)) {
      callback();
      // A reserve() that returned null while Node queued this run is owed its 'drain'.
      if (this.#drainOwed) this.#drainMaybe();
    } else {
      this.#hold(held);
    }
  }

  /** Marks the ring ended, then waits until the reader has taken it all (docs/semantics.md 9). */
  override _final(callback: WriteCallback): void {
    this.#ring.dropUnpublished(); // uncommitted reservations are not written
    this.#ring.markEnded();
    this.#waitForReader(callback, callback);
  }

  /** Node's hook behind `destroy()`; not for users to call. @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#fastOpen = false;
    const failure = error ?? streamDestroyed('write');
    const held = this.#held;
    this.#held = null;
    this.#oversize = null;
    this.#roomWanted = 0;
    this.#ring.dropUnpublished();
    if (held !== null) process.nextTick(held.callback, failure);
    // On a later tick, as Node fails what waits on a destroyed Writable: an
    // `end()` waiting for the reader must not have its callback called from
    // inside destroy(), ahead of earlier writes' callbacks.
    const waiters = this.#tailWaiters;
    this.#tailWaiters = [];
    if (waiters.length > 0) process.nextTick(rejectAll, waiters, error ?? streamDestroyed('flush'));
    // The port's close tells the reader this writer is gone; a pending wait
    // on the tail is settled rather than left dangling.
    this.#port.close();
    if (this.#tailWaitPending) this.#ring.wakeOwnWait();
    callback(error);
  }

  // ---- Placing writes in the ring --------------------------------------------

  /** Copies one chunk as one record at the fill point (the caller reserved it). */
  #copyRecord(chunk: Buffer, flags: number): void {
    const ring = this.#ring;
    try {
      ring.putRecord(chunk.length, flags);
      ring.putPayload(chunk, 0, chunk.length);
    } catch (error) {
      ring.giveBack(); // nothing of the record becomes visible
      throw error;
    }
  }

  /**
   * Places the held entries' units from `held.index` on, while the ring has
   * room; true once all are in. Each unit is one `write()` or one group; a
   * unit is published whole (or, larger than the ring, fragment by fragment).
   * The units placed are published together, once, when this returns: one
   * head store per run of writes rather than per write.
   */
  #advance(held: HeldWrite): boolean {
    try {
      return this.#placeUnits(held);
    } finally {
      this.#ring.publish();
    }
  }

  #placeUnits(held: HeldWrite): boolean {
    const entries = held.entries;
    while (held.index < entries.length) {
      if (this.#oversize !== null) {
        if (!this.#sendFragments(this.#oversize)) return false;
        held.index = this.#oversize.end;
        this.#oversize = null;
        continue;
      }
      const next = this.#placeUnit(entries, held.index);
      if (next < 0) return false;
      held.index = next;
    }
    return true;
  }

  /**
   * Places the unit at `index` if the ring has room for all of it; returns
   * the index after it, or -1 (with the room it needs set, or `#oversize` started).
   */
  #placeUnit(entries: readonly WritevEntry[], index: number): number {
    const chunk = entries[index].chunk as Buffer;
    const count = groupCountOf(chunk, false);
    const ring = this.#ring;
    if (count < 0) {
      const length = chunk.length;
      if (length === 0) return index + 1;
      if (length > ring.capacity) return this.#startOversize([chunk], index + 1);
      if (!ring.reserve(1, length)) return this.#needRoom(1, length);
      this.#copyRecord(chunk, 0);
      ring.place();
      return index + 1;
    }
    const first = index + 1;
    const end = Math.min(entries.length, first + count);
    let total = 0;
    let parts = 0;
    for (let i = first; i < end; i++) {
      const length = (entries[i].chunk as Buffer).length;
      total += length;
      if (length > 0) parts++;
    }
    if (total === 0) return end;
    // docs/semantics.md 7: a group of at most `size` bytes is one record, so it cannot
    // be split; a larger one goes chunk by chunk, flagged so the reader takes
    // nothing from other rings between them.
    const whole = total <= this.#size;
    const records = whole ? 1 : parts;
    if (total > ring.capacity || records > ring.slots) {
      return this.#startOversize(this.#groupMessages(entries, first, end, whole), end);
    }
    if (!ring.reserve(records, total)) return this.#needRoom(records, total);
    try {
      if (whole) {
        ring.putRecord(total, 0);
        for (let i = first; i < end; i++) {
          const part = entries[i].chunk as Buffer;
          ring.putPayload(part, 0, part.length);
        }
      } else {
        let last = end - 1;
        while ((entries[last].chunk as Buffer).length === 0) last--;
        for (let i = first; i <= last; i++) {
          const part = entries[i].chunk as Buffer;
          if (part.length === 0) continue;
          ring.putRecord(part.length, i === last ? 0 : RECORD_GROUP_CONTINUES);
          ring.putPayload(part, 0, part.length);
        }
      }
    } catch (error) {
      ring.giveBack();
      throw error;
    }
    ring.place();
    return end;
  }

  #needRoom(records: number, bytes: number): number {
    this.#needRecords = records;
    this.#needBytes = bytes;
    return -1;
  }

  /** The messages of a group too large for the ring: one joined, or one per non-empty chunk. */
  #groupMessages(entries: readonly WritevEntry[], first: number, end: number, whole: boolean): Buffer[] {
    const chunks: Buffer[] = [];
    for (let i = first; i < end; i++) {
      const part = entries[i].chunk as Buffer;
      if (part.length > 0) chunks.push(part);
    }
    return whole ? [Buffer.concat(chunks)] : chunks;
  }

  #startOversize(messages: Buffer[], end: number): number {
    this.#oversize = { messages, end, message: 0, offset: 0 };
    return -1;
  }

  /**
   * Sends fragments of an oversized unit while space allows; true once all
   * are sent. Each fragment is published as soon as it is copied, so the
   * writer goes on while the reader reassembles; it waits for half the ring
   * (or the rest) to be free, so fragments stay large.
   */
  #sendFragments(oversize: Oversize): boolean {
    const ring = this.#ring;
    const half = ring.capacity >>> 1;
    while (oversize.message < oversize.messages.length) {
      const message = oversize.messages[oversize.message];
      const remaining = message.length - oversize.offset;
      const wanted = Math.min(remaining, half);
      const free = ring.freeBytes();
      if (free < wanted) {
        this.#needRoom(1, wanted);
        return false;
      }
      const length = Math.min(remaining, free);
      const more = length < remaining;
      const last = oversize.message === oversize.messages.length - 1;
      ring.reserve(1, length);
      try {
        ring.putRecord(length, more ? RECORD_MORE : last ? 0 : RECORD_GROUP_CONTINUES);
        ring.putPayload(message, oversize.offset, oversize.offset + length);
      } catch (error) {
        ring.giveBack();
        throw error;
      }
      ring.publish();
      oversize.offset += length;
      if (!more) {
        oversize.message++;
        oversize.offset = 0;
      }
    }
    return true;
  }

  // ---- Waiting for the reader ------------------------------------------------

  /** Holds Node's callback until the rest of the write is in the ring. */
  #hold(held: HeldWrite): void {
    this.#held = held;
    if (this.#blocking) this.#serviceBlocking();
    else this.#service();
  }

  /** Waits for the reader to take everything published so far, then calls `resolve`. */
  #waitForReader(resolve: () => void, reject: (error: Error) => void): void {
    const ring = this.#ring;
    const records = ring.records;
    const bytes = ring.head;
    if (ring.tailsReached(records, bytes)) {
      resolve();
      return;
    }
    this.#tailWaiters.push({ records, bytes, resolve, reject });
    this.#service();
  }

  /**
   * The one loop that waits on the reader: places the held write when room
   * returns, settles `flush()`/`end()` waiters, and otherwise waits on the
   * tail with `Atomics.waitAsync`, the port ref'd so the thread stays alive
   * meanwhile. Runs when a wait starts and each time the tail moves.
   */
  #service(): void {
    for (;;) {
      if (this.destroyed || this.#tailWaitPending) return;
      const ring = this.#ring;
      const held = this.#held;
      if (held !== null && this.#advance(held)) {
        this.#held = null;
        // Node may call _write/_writev again from inside: it may hold anew.
        held.callback();
        this.#drainMaybe();
        continue;
      }
      if (this.#roomWanted > 0 && held === null) {
        const [records, bytes] = ring.viewNeeds(this.#roomWanted);
        if (ring.hasRoom(records, bytes)) {
          this.#roomWanted = 0;
          process.nextTick(this.#emitDrain);
        }
      }
      this.#settleTailWaiters();
      if (this.#held === null && this.#tailWaiters.length === 0 && this.#roomWanted === 0) {
        ring.endTailWait();
        return;
      }
      const [records, bytes] = this.#waitTarget();
      // Armed before the last looks, so a reader that moves the tails (or
      // goes away) after them bumps the counter this wait is on.
      const seen = ring.prepareTailWait(records, bytes);
      if (this.#readerGone || this.#readerClosed()) {
        this.#failReaderGone();
        return;
      }
      if (ring.tailsReached(records, bytes)) continue; // the tail moved before the flag was seen
      const wait = ring.waitOnTailAsync(seen);
      if (wait === null) continue;
      this.#tailWaitPending = true;
      this.#port.ref();
      void wait.then(this.#onTailMoved);
      return;
    }
  }

  /** Blocking mode: waits with `Atomics.wait` until a reservation of `length` bytes fits, then makes it. */
  #reserveBlocking(length: number): Buffer | null {
    const ring = this.#ring;
    for (;;) {
      // Waiting would deadlock: the reader cannot take what is not committed.
      if (ring.hasUnpublished)
        throw invalidState('reserve() would block on reservations not committed: commit() first');
      const [records, bytes] = ring.viewNeeds(length);
      // Half the ring (or what it needs), as a held write: one wake per half ring.
      const seen = ring.prepareTailWait(
        ...ring.roomTarget(Math.max(records, ring.slots >>> 1), Math.max(bytes, ring.capacity >>> 1)),
      );
      if (this.#readerClosed()) {
        ring.endTailWait();
        const error = streamDestroyed('reserve');
        this.destroy(error);
        throw error;
      }
      if (!ring.hasRoom(records, bytes)) ring.waitOnTail(seen);
      const view = ring.reserveView(length);
      if (view !== null) {
        ring.endTailWait();
        return view;
      }
    }
  }

  /** Blocking mode: waits with `Atomics.wait` until the held write is in the ring. */
  #serviceBlocking(): void {
    const ring = this.#ring;
    const held = this.#held as HeldWrite;
    while (!this.#advance(held)) {
      const [records, bytes] = this.#waitTarget();
      // As in #service: a destroy() landing after this look bumps `seen`.
      const seen = ring.prepareTailWait(records, bytes);
      if (this.#readerClosed()) {
        this.#failReaderGone();
        return;
      }
      if (!ring.tailsReached(records, bytes)) ring.waitOnTail(seen);
    }
    ring.endTailWait();
    this.#held = null;
    held.callback();
  }

  /**
   * The tails to wait for: where the held write can go on, or the first
   * waiter is done, whichever comes first; once reached, something progresses
   * (never a spin). A held write waits for half the ring to be free (or what
   * it needs, if more), so the reader notifies once per half ring, not per
   * commit.
   */
  #waitTarget(): [records: number, bytes: number] {
    const ring = this.#ring;
    const waiter = this.#tailWaiters.length > 0 ? this.#tailWaiters[0] : null;
    let needRecords = this.#needRecords;
    let needBytes = this.#needBytes;
    if (this.#held === null) {
      if (this.#roomWanted === 0) {
        const first = waiter as TailWaiter;
        return [first.records, first.bytes];
      }
      [needRecords, needBytes] = ring.viewNeeds(this.#roomWanted);
    }
    const room = ring.roomTarget(
      Math.max(needRecords, ring.slots >>> 1),
      Math.max(needBytes, ring.capacity >>> 1),
    );
    // A waiter's cursors sit on one record boundary: reaching its bytes
    // reaches its records too.
    return waiter !== null && !reached(waiter.bytes, room[1]) ? [waiter.records, waiter.bytes] : room;
  }

  #settleTailWaiters(): void {
    const waiters = this.#tailWaiters;
    let done = 0;
    while (done < waiters.length && this.#ring.tailsReached(waiters[done].records, waiters[done].bytes))
      done++;
    if (done === 0) return;
    const settled = waiters.splice(0, done);
    for (const waiter of settled) waiter.resolve();
  }

  /**
   * The held write is in and Node's queue is empty: emit the `'drain'` we
   * owe (after a held write, or a `reserve()` that found Node's queue not
   * empty, e.g. before a `construct` step has finished).
   */
  #drainMaybe(): void {
    if (this.#drainOwed && this.#held === null && this.writableLength === 0) {
      this.#drainOwed = false;
      // After the write callbacks Node defers to the next tick, as Node orders them.
      process.nextTick(this.#emitDrain);
    }
  }

  /** `write()` and `writeV()` would publish open reservations with their data: refused. */
  #refuseOpenReservation(method: string): void {
    if (this.#ring.hasUnpublished) {
      throw invalidState(`${method}() with reservations not committed: commit() first`);
    }
  }

  #readerClosed(): boolean {
    return Atomics.load(this.#control, CONTROL_READER_STATE) === READER_CLOSED;
  }

  /**
   * The reader went away: the held write and every waiter it had not served
   * fail, and the stream is destroyed at once, so a synchronous loop sees
   * `destroyed` (and `write()` returning false) right after this write.
   *
   * Waiters whose records the reader took before it went are settled first:
   * a reader that ends once every writer has ended (autoEnd) may take this
   * writer's last records and close between this writer's last look at the
   * tails and its look at the reader's state, and that `end()` succeeded.
   * With nothing else waiting, the stream is left as it is.
   */
  #failReaderGone(): void {
    this.#ring.endTailWait();
    this.#settleTailWaiters();
    if (this.#held === null && this.#tailWaiters.length === 0 && this.#roomWanted === 0) return;
    const error = streamDestroyed('write');
    // Node's write() would queue from here on (errored): the held write's
    // callback may write again before destroy() below.
    this.#fastOpen = false;
    this.#failTailWaiters(error);
    const held = this.#held;
    this.#held = null;
    this.#oversize = null;
    if (held !== null) held.callback(error);
    this.destroy(error);
  }

  /** A write made after the reader went away: fails, and so does the stream, at once. */
  #failWrite(callback: WriteCallback): void {
    const error = streamDestroyed('write');
    callback(error);
    this.destroy(error);
  }

  #failTailWaiters(error: Error): void {
    const waiters = this.#tailWaiters;
    this.#tailWaiters = [];
    rejectAll(waiters, error);
  }
}

function rejectAll(waiters: readonly TailWaiter[], error: Error): void {
  for (const waiter of waiters) waiter.reject(error);
}

/** Throws unless `handle` looks like what `WorkerChannel.createWriter()` returns. */
function checkHandle(handle: WorkerWriterHandle): void {
  if (handle === null || typeof handle !== 'object') throw invalidArgType('handle', 'of type object', handle);
  const { id, size, control, ring, port } = handle;
  if (!Number.isSafeInteger(id)) throw invalidArgType('handle.id', 'an integer', id);
  if (!Number.isSafeInteger(size) || size < 1)
    throw invalidArgType('handle.size', 'a positive integer', size);
  if (!(control instanceof SharedArrayBuffer) || control.byteLength !== CONTROL_SLOTS * 4) {
    throw invalidArgType('handle.control', 'a channel control SharedArrayBuffer', control);
  }
  if (!(ring instanceof SharedArrayBuffer) || !isRing(ring)) {
    throw invalidArgType('handle.ring', 'a ring SharedArrayBuffer', ring);
  }
  if (!(port instanceof MessagePort)) throw invalidArgType('handle.port', 'an instance of MessagePort', port);
}
