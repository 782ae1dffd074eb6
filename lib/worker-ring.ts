import { outOfRange } from './errors';
import {
  CONTROL_DOORBELL,
  CONTROL_READER_SLEEPING,
  RECORD_HEADER_BYTES,
  RECORD_LENGTH_MASK,
  RECORD_MORE,
  RING_CAPACITY,
  RING_DATA_OFFSET,
  RING_HEAD,
  RING_MAGIC,
  RING_MAGIC_VALUE,
  RING_TAIL,
  RING_WRITER_STATE,
  RING_WRITER_WAITING,
  WRITER_ATTACHED,
  WRITER_ENDED,
  WRITER_UNCLAIMED,
  recordBytes,
} from './worker-layout';

/** `Atomics.waitAsync`'s result (ES2024, in Node since 16). */
type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

/** `Atomics.waitAsync`, typed here because the project compiles against the ES2022 lib. */
export const waitAsync = (
  Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number): WaitAsyncResult }
).waitAsync;

/**
 * Test-only hooks into the publish step, so specs can stall a writer between
 * reserving and publishing, and prove with a deliberately broken writer that
 * they catch torn records. Not part of the public API.
 */
export interface RingTestHooks {
  /**
   * A stall between reserving and publishing: runs after the record's bytes
   * are copied, before the head is stored (or, broken, between the early
   * store and the copy).
   */
  stall?: () => void;
  /** Broken on purpose: stores the head at reservation, before any byte is copied. */
  publishBeforeCopy?: boolean;
}

/** Creates the shared memory of one ring: header written, cursors at `initialCursor`. */
export function createRing(capacity: number, initialCursor: number): SharedArrayBuffer {
  const ring = new SharedArrayBuffer(RING_DATA_OFFSET + capacity);
  const words = new Int32Array(ring);
  words[RING_MAGIC] = RING_MAGIC_VALUE;
  words[RING_CAPACITY] = capacity;
  words[RING_HEAD] = initialCursor | 0;
  words[RING_TAIL] = initialCursor | 0;
  words[RING_WRITER_STATE] = WRITER_UNCLAIMED;
  return ring;
}

/** True if `ring` carries this layout's header and a sane capacity. */
export function isRing(ring: SharedArrayBuffer): boolean {
  if (ring.byteLength < RING_DATA_OFFSET + 4) return false;
  const words = new Int32Array(ring, 0, RING_DATA_OFFSET >> 2);
  const capacity = words[RING_CAPACITY];
  return (
    words[RING_MAGIC] === RING_MAGIC_VALUE &&
    capacity > 0 &&
    (capacity & (capacity - 1)) === 0 &&
    ring.byteLength === RING_DATA_OFFSET + capacity
  );
}

/**
 * The writer's end of one ring. Only this object moves the head, so it keeps
 * the head in a field and stores it to shared memory only to publish.
 *
 * Writing is: `reserve(bytes)` (the one reservation step: succeeds only if
 * the reader has freed that much), `putHeader`/`putPayload` to copy records
 * into the reservation, then `publish()` (the head is stored after the copy)
 * or `giveBack()` (the reservation is dropped; its bytes were never visible).
 */
export class RingWriter {
  /** The whole ring as words: header slots, and record headers in the data area. */
  readonly #words: Int32Array;
  /** The data area as bytes. */
  readonly #data: Buffer;
  /** The channel's control block: the doorbell to wake the reader. */
  readonly #control: Int32Array;
  /** Data bytes, a power of two. */
  readonly capacity: number;
  /** `capacity - 1`: cursor to data position. */
  readonly #mask: number;
  readonly #hooks: RingTestHooks;

  /** The published head, as last stored; the reserved bytes start here. */
  #head: number;
  /** The tail as last loaded: free space is at least `capacity - (head - tail)`. */
  #tailSeen: number;
  /** Bytes reserved and not yet published or given back; 0 when none. */
  #reserved = 0;
  /** Where the next copied byte goes: a cursor inside the reservation. */
  #fill: number;

  constructor(control: SharedArrayBuffer, ring: SharedArrayBuffer, hooks: RingTestHooks = {}) {
    this.#words = new Int32Array(ring);
    this.capacity = this.#words[RING_CAPACITY];
    this.#mask = this.capacity - 1;
    this.#data = Buffer.from(ring, RING_DATA_OFFSET, this.capacity);
    this.#control = new Int32Array(control);
    this.#hooks = hooks;
    this.#head = Atomics.load(this.#words, RING_HEAD) >>> 0;
    this.#tailSeen = Atomics.load(this.#words, RING_TAIL) >>> 0;
    this.#fill = this.#head;
  }

  /** Claims the ring for this writer; false if another writer has it (one handle, one stream). */
  claim(): boolean {
    return (
      Atomics.compareExchange(this.#words, RING_WRITER_STATE, WRITER_UNCLAIMED, WRITER_ATTACHED) ===
      WRITER_UNCLAIMED
    );
  }

  /** Tells the reader this writer has published its last record. */
  markEnded(): void {
    Atomics.store(this.#words, RING_WRITER_STATE, WRITER_ENDED);
    this.#ringDoorbell(true);
  }

  /** The published head: what `flush()` waits for the tail to reach. */
  get head(): number {
    return this.#head;
  }

  /**
   * The one reservation step: claims `bytes` (a multiple of 4, at most
   * `capacity`) after the head, if the reader has freed them. Reloads the
   * tail only when the last one seen is not enough.
   */
  reserve(bytes: number): boolean {
    if (this.capacity - ((this.#head - this.#tailSeen) >>> 0) < bytes) {
      this.#tailSeen = Atomics.load(this.#words, RING_TAIL) >>> 0;
      if (this.capacity - ((this.#head - this.#tailSeen) >>> 0) < bytes) return false;
    }
    this.#reserved = bytes;
    this.#fill = this.#head;
    if (this.#hooks.publishBeforeCopy === true) {
      this.#store((this.#head + bytes) >>> 0);
      this.#ringDoorbell(false);
      this.#hooks.stall?.();
    }
    return true;
  }

  /** Bytes free now, at least (reloads the tail): for fragments of an oversized message. */
  freeBytes(): number {
    this.#tailSeen = Atomics.load(this.#words, RING_TAIL) >>> 0;
    return this.capacity - ((this.#head - this.#tailSeen) >>> 0);
  }

  /** Writes a record header (payload length and flags) at the fill point. */
  putHeader(payload: number, flags: number): void {
    this.#words[(RING_DATA_OFFSET + (this.#fill & this.#mask)) >> 2] = payload | flags;
    this.#fill = (this.#fill + RECORD_HEADER_BYTES) >>> 0;
  }

  /** Copies `source[start, end)` at the fill point, wrapping around the data area's end. */
  putPayload(source: Uint8Array, start: number, end: number): void {
    const position = this.#fill & this.#mask;
    const length = end - start;
    const room = this.capacity - position;
    // The common case first: a whole chunk that does not wrap needs no view.
    if (length <= room) {
      this.#data.set(start === 0 && end === source.length ? source : source.subarray(start, end), position);
    } else {
      this.#data.set(source.subarray(start, start + room), position);
      this.#data.set(source.subarray(start + room, end), 0);
    }
    this.#fill = (this.#fill + length) >>> 0;
  }

  /** Ends a record: pads the fill point to the next word. */
  endRecord(): void {
    this.#fill = (this.#fill + 3) & ~3;
    this.#fill >>>= 0;
  }

  /**
   * Makes the copied records visible: the head is stored after the copy, so
   * the reader can never see a record whose bytes are not all there. Then
   * wakes the reader if it sleeps.
   */
  publish(): void {
    const head = (this.#head + this.#reserved) >>> 0;
    this.#reserved = 0;
    if (this.#hooks.publishBeforeCopy !== true) this.#hooks.stall?.();
    this.#head = head;
    this.#store(head);
    this.#ringDoorbell(false);
  }

  /**
   * The give-back path: drops the reservation unpublished. Nothing shared was
   * changed by reserving, so the reader never sees these bytes and the next
   * reservation starts at the same head.
   */
  giveBack(): void {
    this.#reserved = 0;
    this.#fill = this.#head;
  }

  // ---- Waiting on the tail ---------------------------------------------------

  /**
   * True once the reader's tail has reached `target`, a cursor at most
   * `capacity` past the tail. A tail at or past it is less than 2^31 ahead;
   * one short of it is just under 2^32 "ahead" once wrapped.
   */
  tailReached(target: number): boolean {
    this.#tailSeen = Atomics.load(this.#words, RING_TAIL) >>> 0;
    return ((this.#tailSeen - target) >>> 0) < 2 ** 31;
  }

  /**
   * Announces a wait on the tail and returns the tail to wait on. The flag is
   * stored before the tail is loaded, so a reader that moves the tail after
   * this load sees the flag and notifies.
   */
  prepareTailWait(): number {
    Atomics.store(this.#words, RING_WRITER_WAITING, 1);
    this.#tailSeen = Atomics.load(this.#words, RING_TAIL) >>> 0;
    return this.#tailSeen;
  }

  /**
   * Waits without blocking until the tail moves from `seen`; null if it
   * already has. No timeout: on Node 20 a finite timeout leaks in a loop, and
   * the reader always notifies (on a new tail, or when it goes away).
   */
  waitOnTailAsync(seen: number): Promise<'ok' | 'timed-out'> | null {
    const result = waitAsync(this.#words, RING_TAIL, seen | 0);
    return result.async ? result.value : null;
  }

  /** Blocks the thread until the tail moves from `seen` (blocking mode; workers only). */
  waitOnTail(seen: number): void {
    Atomics.wait(this.#words, RING_TAIL, seen | 0);
  }

  /** The wait is over: the reader need not notify any more. */
  endTailWait(): void {
    Atomics.store(this.#words, RING_WRITER_WAITING, 0);
  }

  /** Settles this thread's own pending wait on the tail (when giving up on it). */
  wakeOwnWait(): void {
    Atomics.notify(this.#words, RING_TAIL);
  }

  #store(head: number): void {
    Atomics.store(this.#words, RING_HEAD, head | 0);
  }

  /**
   * Wakes a sleeping reader: only the writer that clears the sleeping flag
   * rings, so one sleep costs one notify however many writers publish.
   * `always` rings even if the reader is awake (the end of a writer is rare).
   */
  #ringDoorbell(always: boolean): void {
    const control = this.#control;
    if (
      always ||
      (Atomics.load(control, CONTROL_READER_SLEEPING) !== 0 &&
        Atomics.compareExchange(control, CONTROL_READER_SLEEPING, 1, 0) === 1)
    ) {
      Atomics.add(control, CONTROL_DOORBELL, 1);
      Atomics.notify(control, CONTROL_DOORBELL);
    }
  }
}

/**
 * The reader's end of one ring: takes whole messages out, reassembling the
 * fragments of one larger than the ring, and gives the space back with one
 * tail store per `commit()`.
 */
export class RingReader {
  readonly #words: Int32Array;
  readonly #data: Buffer;
  readonly capacity: number;
  readonly #mask: number;

  /** The consumed cursor as far as copied; stored to shared memory by `commit()`. */
  #tail: number;
  /** The tail as last stored. */
  #tailCommitted: number;
  /** The head as last loaded: records before it are complete. */
  #head: number;
  /** Header word of the next message when it is complete in the ring (valid after `nextMessageLength`). */
  #header = 0;
  /** Fragments of a message larger than the ring, copied out so the writer can go on. */
  #fragments: Buffer[] = [];
  /** Bytes in `#fragments`. */
  #fragmentBytes = 0;
  /** A reassembled message waiting to be taken, or null. */
  #assembled: Buffer | null = null;

  constructor(ring: SharedArrayBuffer) {
    this.#words = new Int32Array(ring);
    this.capacity = this.#words[RING_CAPACITY];
    this.#mask = this.capacity - 1;
    this.#data = Buffer.from(ring, RING_DATA_OFFSET, this.capacity);
    this.#head = Atomics.load(this.#words, RING_HEAD) >>> 0;
    this.#tail = Atomics.load(this.#words, RING_TAIL) >>> 0;
    this.#tailCommitted = this.#tail;
  }

  /** True once the writer stored its end; read before the head, so the head is then final. */
  writerEnded(): boolean {
    return Atomics.load(this.#words, RING_WRITER_STATE) === WRITER_ENDED;
  }

  /** Loads the head: what the writer has published so far. */
  refresh(): void {
    this.#head = Atomics.load(this.#words, RING_HEAD) >>> 0;
  }

  /** Bytes published and not yet taken, plus a reassembled message: a bound on payload bytes. */
  get pendingBytes(): number {
    return ((this.#head - this.#tail) >>> 0) + (this.#assembled === null ? 0 : this.#assembled.length);
  }

  /**
   * A bound on the payload bytes the next messages can bring: published
   * bytes, plus a reassembled message, plus fragments already copied out.
   */
  get boundBytes(): number {
    return this.pendingBytes + this.#fragmentBytes;
  }

  /** True while part of a fragmented message is held: dropped if the writer dies. */
  get holdsPartialMessage(): boolean {
    return this.#fragments.length > 0;
  }

  /**
   * Payload bytes of the next complete message, or -1 if none is complete
   * (as of the last `refresh()`). Fragments of a message larger than the ring
   * are moved out of the ring here, so its writer can go on.
   *
   * @throws RangeError `ERR_OUT_OF_RANGE` if a record claims more bytes than
   *   were published: the ring is corrupt (a writer broke the protocol).
   */
  nextMessageLength(): number {
    if (this.#assembled !== null) return this.#assembled.length;
    for (;;) {
      const published = (this.#head - this.#tail) >>> 0;
      if (published === 0) return -1;
      const header = this.#words[(RING_DATA_OFFSET + (this.#tail & this.#mask)) >> 2];
      const length = header & RECORD_LENGTH_MASK;
      if (published < RECORD_HEADER_BYTES || recordBytes(length) > published) {
        throw outOfRange('record length', `<= ${Math.max(0, published - RECORD_HEADER_BYTES)}`, length);
      }
      // The common case: a whole message in the ring, taken in place.
      if ((header & RECORD_MORE) === 0 && this.#fragments.length === 0) {
        this.#header = header;
        return length;
      }
      const fragment = Buffer.allocUnsafe(length);
      this.#copyOut(fragment, 0, length);
      this.#fragments.push(fragment);
      this.#fragmentBytes += length;
      if ((header & RECORD_MORE) === 0) {
        this.#assembled = Buffer.concat(this.#fragments, this.#fragmentBytes);
        this.#fragments = [];
        this.#fragmentBytes = 0;
        this.#header = header;
        return this.#assembled.length;
      }
    }
  }

  /** Header flags of the message `nextMessageLength()` found. */
  get nextMessageFlags(): number {
    return this.#header & ~RECORD_LENGTH_MASK;
  }

  /** Copies the next message (of `length` bytes, as found) into `target` at `offset`. */
  takeMessageInto(target: Buffer, offset: number, length: number): void {
    if (this.#assembled !== null) {
      target.set(this.#assembled, offset);
      this.#assembled = null;
      return;
    }
    this.#copyOut(target, offset, length);
  }

  /** Takes the next message (of `length` bytes) as a Buffer of its own: one that goes alone. */
  takeMessageAlone(length: number): Buffer {
    const assembled = this.#assembled;
    if (assembled !== null) {
      this.#assembled = null;
      return assembled;
    }
    const message = Buffer.allocUnsafeSlow(length);
    this.#copyOut(message, 0, length);
    return message;
  }

  /** Drops a partly reassembled message: its writer died before its last fragment. */
  dropPartialMessage(): void {
    this.#fragments = [];
    this.#fragmentBytes = 0;
  }

  /**
   * Gives the space taken so far back to the writer (one tail store), and
   * wakes the writer if it waits for space or for a flush.
   */
  commit(): void {
    if (this.#tail === this.#tailCommitted) return;
    this.#tailCommitted = this.#tail;
    Atomics.store(this.#words, RING_TAIL, this.#tail | 0);
    if (Atomics.load(this.#words, RING_WRITER_WAITING) !== 0) {
      Atomics.store(this.#words, RING_WRITER_WAITING, 0);
      Atomics.notify(this.#words, RING_TAIL);
    }
  }

  /** Wakes the writer whatever it waits for: the reader is going away. */
  wakeWriter(): void {
    Atomics.notify(this.#words, RING_TAIL);
  }

  /** Copies the payload of the record at the tail into `target` and moves past the record. */
  #copyOut(target: Buffer, offset: number, length: number): void {
    const position = (this.#tail + RECORD_HEADER_BYTES) & this.#mask;
    const room = this.capacity - position;
    if (length <= room) {
      this.#data.copy(target, offset, position, position + length);
    } else {
      this.#data.copy(target, offset, position, this.capacity);
      this.#data.copy(target, offset + room, 0, length - room);
    }
    this.#tail = (this.#tail + recordBytes(length)) >>> 0;
  }
}
