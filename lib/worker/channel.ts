import { Buffer } from 'node:buffer';
import process from 'node:process';
import { Readable, type ReadableOptions } from 'node:stream';
import { MessageChannel, threadId, Worker, type MessagePort, type WorkerOptions } from 'node:worker_threads';
import { invalidArgType, invalidState, outOfRange, streamDestroyed } from '../errors';
import {
  CONTROL_DOORBELL,
  CONTROL_READER_SLEEPING,
  CONTROL_READER_STATE,
  CONTROL_READER_THREAD,
  CONTROL_SLOTS,
  MAX_RING_CAPACITY,
  MIN_RING_CAPACITY,
  READER_CLOSED,
  RECORD_GROUP_CONTINUES,
} from './layout';
import { checkSize } from '../options';
import { createRing, RingReader } from './ring';
import type { WorkerWriterHandle } from './writable';

/** Options of `new WorkerChannel(options)`, on top of Node's `ReadableOptions`. */
export interface WorkerChannelOptions extends Omit<
  ReadableOptions,
  'read' | 'destroy' | 'construct' | 'objectMode' | 'encoding'
> {
  /**
   * The most bytes a batch holds, a positive safe integer. A single write (or
   * a group) of `size` bytes or more is handed on alone, whole.
   */
  size: number;
  /**
   * Bytes of each writer's ring, rounded up to a power of two, from 1024 to
   * 2^29 (512 MiB); default 262144 (256 KiB). A write larger than the ring still goes through, in
   * fragments the reader puts back together.
   */
  ringSize?: number | undefined;
  /**
   * End the stream once every writer created so far has ended (default
   * true). With false, the stream ends only after `seal()`.
   */
  autoEnd?: boolean | undefined;
  /** Batches the stream may buffer for downstream (default 1). */
  highWaterMark?: number | undefined;
}

/** What `'writerEnd'` reports. */
export interface WriterEndInfo {
  /** The writer's id, as on its handle. */
  readonly id: number;
  /**
   * True if the writer ended its writable (`end()`); false if its thread
   * exited, crashed or was terminated first, or it destroyed its writable.
   * Either way every record it published has been pushed before this event;
   * a record it had not published is lost.
   */
  readonly clean: boolean;
}

/** Node's listener type for events other than ours, as `Readable` declares it. */
type NodeListener = Parameters<Readable['on']>[1];

const DEFAULT_RING_SIZE = 262144;

/** One attached writer, as the reader sees it. */
interface WriterState {
  readonly id: number;
  readonly ring: RingReader;
  /** Our end of the writer's port: ref'd while attached, so this thread stays alive for it. */
  readonly port: MessagePort;
  /** True once the port closed: the writer's thread is gone (or it destroyed its writable). */
  closed: boolean;
}

/**
 * The reader side of a channel from `worker_threads` writers: a
 * `stream.Readable` of batches (Buffers of at most `size` bytes) gathered
 * from every writer's ring in shared memory, with no `postMessage` per write.
 *
 * `createWriter()` makes a handle for one writer thread; there,
 * `new WorkerWritable(handle)` writes into it. Batches are pushed as soon as
 * downstream is ready, as full as the data waiting allows: per writer in
 * write order, a write never split (unless of `size` bytes or more, then
 * alone and whole), a group of at most `size` bytes in one batch.
 *
 * Why not the batching core: the core admits chunks through a Writable's
 * queue, one write request per chunk and a copy it owns, while ring space
 * must be given back as soon as the bytes are copied out. Here records are
 * copied straight from shared memory into the batch under the same rules, so
 * the reader does no per-record allocation or queueing.
 */
export class WorkerChannel extends Readable {
  /** Most bytes per batch (docs/semantics.md 3). */
  readonly #size: number;
  /** Bytes of each new ring, a power of two. */
  readonly #ringSize: number;
  /** End once every writer created so far has ended. */
  readonly #autoEnd: boolean;
  /** The control block shared with every writer. */
  readonly #controlBuffer: SharedArrayBuffer;
  readonly #control: Int32Array;

  /** Attached writers, in creation order; a writer leaves once it ended and its ring is drained. */
  #writers: WriterState[] = [];
  /** Id of the next writer. */
  #nextId = 0;
  /** True once `seal()` was called: no more writers. */
  #sealed = false;
  /** Index in `#writers` the next batch starts gathering from (round robin). */
  #next = 0;
  /** The writer in the middle of a group larger than `size`: nothing from others comes first. */
  #sticky: WriterState | null = null;
  /** True from `_read` until `push` returns false: downstream takes a batch now. */
  #demand = false;
  /** True while an `Atomics.waitAsync` on the doorbell is pending; never two. */
  #sleeping = false;
  /** True while `#pump` runs: a nested call (from `push` or an event) is folded into it. */
  #pumping = false;
  /** True once `push(null)` was called. */
  #ended = false;

  // Bound once, so no write allocates a closure.
  readonly #onTick = (): void => this.#pump();
  readonly #onDoorbell = (): void => {
    this.#sleeping = false;
    Atomics.store(this.#control, CONTROL_READER_SLEEPING, 0);
    this.#pump();
  };

  /**
   * @throws TypeError `ERR_INVALID_ARG_TYPE` / RangeError `ERR_OUT_OF_RANGE`
   *   for a bad `size` (as `BatchingWritable`), `ringSize` or `autoEnd`; a
   *   `maxDelay` other than 0 or an `objectMode` other than false is refused,
   *   as batches go out as soon as possible and carry bytes.
   */
  constructor(options: WorkerChannelOptions) {
    const settings = checkChannelOptions(options);
    super({
      ...options,
      highWaterMark: options.highWaterMark ?? 1,
      objectMode: true,
      encoding: undefined,
      read: undefined,
      destroy: undefined,
      construct: undefined,
    });
    this.#size = settings.size;
    this.#ringSize = settings.ringSize;
    this.#autoEnd = settings.autoEnd;
    this.#controlBuffer = new SharedArrayBuffer(CONTROL_SLOTS * 4);
    this.#control = new Int32Array(this.#controlBuffer);
    // Read by writers: blocking mode is refused on this thread.
    Atomics.store(this.#control, CONTROL_READER_THREAD, threadId);
  }

  /** Writers attached now: created and not yet ended and drained. */
  get writerCount(): number {
    return this.#writers.length;
  }

  // Our event is typed; the catch-alls keep Readable's own overloads.
  /** `'writerEnd'`: a writer ended and every record it published was pushed. */
  override on(event: 'writerEnd', listener: (info: WriterEndInfo) => void): this;
  override on(event: string | symbol, listener: NodeListener): this;
  override on(event: string | symbol, listener: NodeListener): this {
    return super.on(event, listener);
  }

  /** As `on()`, for one `'writerEnd'` (or any other event) only. */
  override once(event: 'writerEnd', listener: (info: WriterEndInfo) => void): this;
  override once(event: string | symbol, listener: NodeListener): this;
  override once(event: string | symbol, listener: NodeListener): this {
    return super.once(event, listener);
  }

  /** Removes a listener added with `on()` or `once()`. */
  override off(event: 'writerEnd', listener: (info: WriterEndInfo) => void): this;
  override off(event: string | symbol, listener: NodeListener): this;
  override off(event: string | symbol, listener: NodeListener): this {
    return super.off(event, listener);
  }

  /**
   * Creates the shared ring of one more writer and returns its handle. Pass
   * it to the worker with its port in the transfer list:
   * `new Worker(file, { workerData: { handle }, transferList: [handle.port] })`,
   * or let `createWorker()` do both. From now until that writer ends (or its
   * thread exits), this thread is kept alive.
   *
   * @throws Error `ERR_INVALID_STATE` after `seal()` or once the stream has
   *   ended (no more writers); `ERR_STREAM_DESTROYED` after `destroy()`.
   */
  createWriter(): WorkerWriterHandle {
    // An ended stream is destroyed too (autoDestroy): say why it ended first.
    if (this.#ended && !this.#sealed) {
      throw invalidState('the channel has ended: every writer had ended (autoEnd), no more writers');
    }
    if (this.#sealed) throw invalidState('the channel is sealed: seal() was called, no more writers');
    if (this.destroyed) throw streamDestroyed('createWriter');
    const ring = createRing(this.#ringSize);
    const { port1, port2 } = new MessageChannel();
    const writer: WriterState = {
      id: this.#nextId++,
      ring: new RingReader(ring),
      port: port1,
      closed: false,
    };
    port1.on('close', () => {
      writer.closed = true;
      this.#pump();
    });
    // The one handle that keeps this thread alive while a writer is attached
    // (a pending Atomics.waitAsync does not); closed when the writer leaves.
    port1.ref();
    this.#writers.push(writer);
    return { id: writer.id, size: this.#size, control: this.#controlBuffer, ring, port: port2 };
  }

  /**
   * Starts a worker thread that writes into this channel: creates its handle
   * (`createWriter()`), passes it as `workerData.handle` beside the other
   * properties of `options.workerData`, and puts its port in the transfer
   * list. There, `new WorkerWritable(workerData.handle)` opens it.
   *
   * @param filename - as `new Worker(filename, options)`.
   * @param options - Node's `WorkerOptions`; `workerData`, if given, must be
   *   a plain object without a `handle` property.
   * @returns the `Worker`. If Node refuses to start it (a bad file or
   *   option), the handle is dropped unused and the error is thrown.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for a `workerData` that is not a
   *   plain object, or already has `handle`; as `createWriter()` otherwise.
   */
  createWorker(filename: string | URL, options: WorkerOptions = {}): Worker {
    if (options === null || typeof options !== 'object') {
      throw invalidArgType('options', 'of type object', options);
    }
    const workerData: unknown = options.workerData === undefined ? {} : options.workerData;
    const transferList = options.transferList ?? [];
    if (workerData === null || typeof workerData !== 'object' || Array.isArray(workerData)) {
      throw invalidArgType(
        'options.workerData',
        'a plain object (the handle goes in its "handle")',
        workerData,
      );
    }
    if ('handle' in workerData) {
      throw invalidArgType('options.workerData', 'an object without a "handle" property', workerData);
    }
    const handle = this.createWriter();
    try {
      return new Worker(filename, {
        ...options,
        workerData: { ...workerData, handle },
        transferList: [...transferList, handle.port],
      });
    } catch (error) {
      this.#dropUnusedWriter(handle);
      throw error;
    }
  }

  /** Forgets the writer of a handle that never reached a thread, as if it had not been created. */
  #dropUnusedWriter(handle: WorkerWriterHandle): void {
    const index = this.#writers.findIndex((writer) => writer.id === handle.id);
    const [writer] = this.#writers.splice(index, 1);
    writer.port.removeAllListeners('close');
    writer.port.close();
    handle.port.close();
    if (handle.id === this.#nextId - 1) this.#nextId--;
  }

  /**
   * No more writers: the stream ends once the attached ones have ended (at
   * once if there are none). Needed with `autoEnd: false`.
   */
  seal(): void {
    this.#sealed = true;
    process.nextTick(this.#onTick);
  }

  /** Node's hook behind `read()`; not for users to call. @internal */
  override _read(): void {
    this.#demand = true;
    this.#pump();
  }

  /** Node's hook behind `destroy()`; not for users to call. @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Writers fail their next write instead of filling rings nobody reads.
    Atomics.store(this.#control, CONTROL_READER_STATE, READER_CLOSED);
    for (const writer of this.#writers) {
      writer.ring.wakeWriter();
      writer.port.close();
    }
    this.#writers = [];
    this.#sticky = null;
    this.#wakeSelf();
    callback(error);
  }

  /**
   * The one loop that moves data: retires drained writers, pushes batches
   * while downstream wants them, and otherwise sleeps on the doorbell. Runs
   * from `_read`, the doorbell, and writers' ports closing.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      this.#pumpLoop();
    } finally {
      // A listener that throws inside push() propagates, as with any Readable.
      this.#pumping = false;
    }
  }

  #pumpLoop(): void {
    for (;;) {
      if (this.destroyed || this.#ended) return;
      this.#retireMaybe();
      if (this.#ended || !this.#demand) return;
      let batch: Buffer | null;
      try {
        // Records not worth taking yet (the wake policy) wait for a writer's ring.
        batch = this.#canProceed() ? this.#gather() : null;
      } catch (error) {
        // A corrupt ring: a writer broke the protocol (RangeError ERR_OUT_OF_RANGE).
        this.destroy(error as Error);
        return;
      }
      if (batch !== null) {
        // A _read nested in push() sets #demand again.
        this.#demand = false;
        if (this.push(batch)) this.#demand = true;
        continue;
      }
      if (this.#sleeping) return;
      // Nothing complete: sleep until a writer rings (docs/workers.md,
      // "Waking the reader"), rather than look again each turn: polling the
      // rings costs CPU the writers need, and reads their head lines.
      if (this.#sleep()) return;
    }
  }

  /**
   * Gathers one batch from the rings, round robin, taking each ring's waiting
   * records in order: at most `size` bytes, a record never split, one of
   * `size` or more alone (docs/semantics.md 3). Returns null when nothing is complete.
   */
  #gather(): Buffer | null {
    const writers = this.#writers;
    const count = writers.length;
    if (count === 0) return null;
    let waiting = 0;
    for (const writer of writers) {
      writer.ring.refresh();
      waiting += writer.ring.boundBytes;
    }
    if (waiting === 0) return null;
    const size = this.#size;
    const start = this.#sticky !== null ? writers.indexOf(this.#sticky) : this.#next % count;
    let batch: Buffer | null = null;
    let length = 0;
    let full = false;
    for (let k = 0; k < count && !full; k++) {
      const index = (start + k) % count;
      const writer = writers[index];
      const ring = writer.ring;
      for (;;) {
        if (batch !== null) {
          // The common case, many plain messages in a row, in one loop.
          const taken = ring.takePlainMessages(batch, length, batch.length - length);
          if (taken > 0) {
            length += taken;
            this.#sticky = null;
          }
        }
        const messageLength = ring.nextMessageLength();
        if (messageLength < 0) break;
        if (length > 0 && length + messageLength > size) {
          full = true;
          break;
        }
        const flags = ring.nextMessageFlags;
        if (length === 0 && messageLength >= size) {
          batch = ring.takeMessageAlone(messageLength);
          length = messageLength;
          full = true;
        } else {
          // `waiting` bounds every message that can complete now, so this batch too.
          batch ??= Buffer.allocUnsafe(Math.min(size, waiting));
          ring.takeMessageInto(batch, length, messageLength);
          length += messageLength;
        }
        this.#sticky = (flags & RECORD_GROUP_CONTINUES) !== 0 ? writer : null;
        if (full) break;
      }
      ring.commit();
      this.#next = index + 1;
      // docs/semantics.md 7: the rest of a group comes before anything of another writer.
      if (this.#sticky !== null) break;
    }
    if (batch === null || length === 0) return null;
    return length === batch.length ? batch : batch.subarray(0, length);
  }

  /**
   * Retires writers that ended (or whose thread is gone) once their rings are
   * drained, reporting each with `'writerEnd'`, and ends the stream when the
   * last one leaves.
   */
  #retireMaybe(): void {
    const writers = this.#writers;
    for (let index = 0; index < writers.length;) {
      const writer = writers[index];
      // The state before the head: an ended ring's head is then final.
      const clean = writer.ring.writerEnded();
      if (!clean && !writer.closed) {
        index++;
        continue;
      }
      writer.ring.refresh();
      if (writer.ring.hasPending) {
        index++;
        continue;
      }
      // A message cut short by a dead writer was never handed on: dropped whole.
      writer.ring.dropPartialMessage();
      writers.splice(index, 1);
      if (this.#sticky === writer) this.#sticky = null;
      writer.port.close();
      this.emit('writerEnd', { id: writer.id, clean } satisfies WriterEndInfo);
      if (this.destroyed) return;
    }
    if (writers.length === 0 && (this.#sealed || (this.#autoEnd && this.#nextId > 0))) {
      this.#ended = true;
      this.#wakeSelf();
      this.push(null);
    }
  }

  /**
   * Goes to sleep on the doorbell unless something arrived meanwhile; true if
   * it sleeps. The flag is stored before the rings are looked at, so a writer
   * that publishes after that look sees it and rings.
   */
  #sleep(): boolean {
    const control = this.#control;
    Atomics.store(control, CONTROL_READER_SLEEPING, 1);
    const bell = Atomics.load(control, CONTROL_DOORBELL);
    if (this.#canProceed()) {
      Atomics.store(control, CONTROL_READER_SLEEPING, 0);
      return false;
    }
    // No timeout: on Node 20 a finite one leaks memory when waited in a loop.
    const wait = Atomics.waitAsync(control, CONTROL_DOORBELL, bell);
    if (!wait.async) {
      Atomics.store(control, CONTROL_READER_SLEEPING, 0);
      return false;
    }
    this.#sleeping = true;
    void wait.value.then(this.#onDoorbell);
    return true;
  }

  /**
   * True if a retirement or a gather would make progress now: exactly what
   * `#pumpLoop` would do, or it would spin instead of sleeping.
   */
  #canProceed(): boolean {
    let waiting = 0;
    for (const writer of this.#writers) {
      const ending = writer.closed || writer.ring.writerEnded();
      const ring = writer.ring;
      ring.refresh();
      const pending = ring.hasPending;
      if (ending && !pending) return true;
      if (!pending || (this.#sticky !== null && this.#sticky !== writer)) continue;
      // Taken now if ending, worth it by the writer's wake policy, or a full batch waits.
      if (ending || ring.ready) return true;
      waiting += ring.boundBytes;
      if (waiting >= this.#size) return true;
    }
    return false;
  }

  /** Settles this thread's own pending wait on the doorbell (no promise left dangling). */
  #wakeSelf(): void {
    if (this.#sleeping) Atomics.notify(this.#control, CONTROL_DOORBELL);
  }
}

interface ChannelSettings {
  readonly size: number;
  readonly ringSize: number;
  readonly autoEnd: boolean;
}

/** Checks the channel's options (docs/semantics.md 11) and resolves defaults. */
function checkChannelOptions(options: unknown): ChannelSettings {
  if (options === null || typeof options !== 'object') {
    throw invalidArgType('options', 'of type object', options);
  }
  const {
    size,
    ringSize = DEFAULT_RING_SIZE,
    autoEnd = true,
    maxDelay = 0,
    objectMode = false,
  } = options as Record<string, unknown>;
  checkSize(size);
  if (typeof ringSize !== 'number') throw invalidArgType('options.ringSize', 'of type number', ringSize);
  if (!Number.isInteger(ringSize) || ringSize < MIN_RING_CAPACITY || ringSize > MAX_RING_CAPACITY) {
    throw outOfRange(
      'options.ringSize',
      `an integer >= ${MIN_RING_CAPACITY} && <= ${MAX_RING_CAPACITY}`,
      ringSize,
    );
  }
  if (typeof autoEnd !== 'boolean') throw invalidArgType('options.autoEnd', 'of type boolean', autoEnd);
  if (typeof maxDelay !== 'number') throw invalidArgType('options.maxDelay', 'of type number', maxDelay);
  if (maxDelay !== 0)
    throw outOfRange('options.maxDelay', '0 (batches go out as soon as possible)', maxDelay);
  if (objectMode !== false)
    throw invalidArgType('options.objectMode', 'false (batches carry bytes)', objectMode);
  return { size: size as number, ringSize: 2 ** Math.ceil(Math.log2(ringSize)), autoEnd };
}
