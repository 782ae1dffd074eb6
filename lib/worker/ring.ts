import { Buffer } from 'node:buffer';
import { outOfRange } from '../errors';
import {
  BYTES_PER_SLOT,
  CONTROL_DOORBELL,
  CONTROL_READER_SLEEPING,
  RECORD_LENGTH_MASK,
  RECORD_MORE,
  RECORD_PADDING,
  RING_CAPACITY,
  RING_HEAD,
  RING_INDEX_OFFSET,
  RING_MAGIC,
  RING_MAGIC_VALUE,
  RING_SLOTS,
  RING_TAIL,
  RING_TAIL_RECORDS,
  RING_WAIT_BYTES,
  RING_WAIT_RECORDS,
  RING_WAITING,
  RING_TURN_OPEN,
  RING_WAKE,
  RING_WAKE_BYTES,
  RING_WRITER_STATE,
  WRITER_ATTACHED,
  WRITER_ENDED,
  WRITER_UNCLAIMED,
  ringDataOffset,
} from './layout';

/**
 * Most views a ring writer keeps for reuse (`RingWriter.reserveView()`):
 * with the default 256 KiB ring, one per 64 bytes.
 */
const MAX_VIEWS = 4096;

/** True once `cursor` has reached `target`; the two are within 2^31 of each other (cursors wrap at 2^32). */
export function reached(cursor: number, target: number): boolean {
  return (cursor - target) >>> 0 < 2 ** 31;
}

/**
 * Creates the shared memory of one ring: header written, every cursor at 0
 * (the reader and the writer take their cursors from the ring, so any common
 * start works: specs start near 2^31 and 2^32).
 */
export function createRing(capacity: number): SharedArrayBuffer {
  const ring = new SharedArrayBuffer(ringDataOffset(capacity) + capacity);
  const words = new Int32Array(ring, 0, RING_INDEX_OFFSET >> 2);
  words[RING_MAGIC] = RING_MAGIC_VALUE;
  words[RING_CAPACITY] = capacity;
  words[RING_SLOTS] = capacity / BYTES_PER_SLOT;
  words[RING_WRITER_STATE] = WRITER_UNCLAIMED;
  return ring;
}

/** True if `ring` carries this layout's header and matching sizes. */
export function isRing(ring: SharedArrayBuffer): boolean {
  if (ring.byteLength < RING_INDEX_OFFSET) return false;
  const words = new Int32Array(ring, 0, RING_INDEX_OFFSET >> 2);
  const capacity = words[RING_CAPACITY];
  return (
    words[RING_MAGIC] === RING_MAGIC_VALUE &&
    capacity >= BYTES_PER_SLOT &&
    (capacity & (capacity - 1)) === 0 &&
    words[RING_SLOTS] === capacity / BYTES_PER_SLOT &&
    ring.byteLength === ringDataOffset(capacity) + capacity
  );
}

/** The views every ring user needs. */
function viewsOf(ring: SharedArrayBuffer): { words: Int32Array; index: Int32Array; data: Buffer } {
  const words = new Int32Array(ring, 0, RING_INDEX_OFFSET >> 2);
  const capacity = words[RING_CAPACITY];
  return {
    words,
    index: new Int32Array(ring, RING_INDEX_OFFSET, words[RING_SLOTS]),
    data: Buffer.from(ring, ringDataOffset(capacity), capacity),
  };
}

/**
 * The writer's end of one ring. Only this object moves the head and writes
 * the index, so it keeps its cursors in fields and stores the head to shared
 * memory only to publish.
 *
 * Writing is: `reserve(records, bytes)` (the one reservation step: succeeds
 * only if the reader has freed that much), `putRecord`/`putPayload` to fill
 * the reservation, then `publish()` (the head is stored after the copy) or
 * `giveBack()` (the reservation is dropped; it was never visible).
 */
export class RingWriter {
  /** Header slots. */
  readonly #words: Int32Array;
  /** The record index: length and flags per record. */
  readonly #index: Int32Array;
  /** The data area. */
  readonly #data: Buffer;
  /** The channel's control block: the doorbell to wake the reader. */
  readonly #control: Int32Array;
  /** Data bytes, a power of two. */
  readonly capacity: number;
  /** Index slots, a power of two. */
  readonly slots: number;
  /** `capacity - 1` and `slots - 1`: cursor to position. */
  readonly #byteMask: number;
  readonly #slotMask: number;

  /** The byte cursor after the last placed record: copied whole, not necessarily published. */
  #head: number;
  /** Records placed: the index cursor after the last placed record. */
  #records: number;
  /** The published cursors: the head as last stored, and the records it covers. */
  #publishedHead: number;
  #publishedRecords: number;
  /** Tails as last loaded: free room is at least what they say. */
  #tailSeen: number;
  #tailRecordsSeen: number;
  /** Where the reservation's next byte and index entry go; equal to the published cursors when none. */
  #fillBytes: number;
  #fillRecords: number;
  /**
   * Views `reserveView()` handed out, to hand out again when a reservation
   * covers the same bytes (a Buffer view costs ~60 ns to make, and is
   * garbage soon after; fixed-size messages land on the same positions every
   * lap of the ring). Direct-mapped by start position (`start >>>
   * #viewShift`), at most `MAX_VIEWS` entries; made on the first
   * reservation, so a writer that only writes has none.
   */
  #views: (Buffer | null)[] | null = null;
  /** Start position and length of each cached view (-1: none). */
  #viewStarts: Int32Array | null = null;
  #viewLengths: Int32Array | null = null;
  readonly #viewShift: number;
  /** The number of this writer's last wait (`RING_WAITING`), never 0. */
  #waitNumber = 0;
  /**
   * The wake policy: a publish that finds the reader asleep rings at once
   * when this many bytes (or more) wait in the ring, else at the end of
   * this thread's event-loop turn. 0: at once, always (`wake: 'eager'`).
   */
  #wakeBytes = 0;
  /** True from the first publish of a turn until its end (`RING_TURN_OPEN`); a `setImmediate` is due then. */
  #turnOpen = false;
  readonly #onTurnEnd = (): void => {
    this.#turnOpen = false;
    // Stored before the flag is loaded: a reader that slept on this turn's records is rung.
    Atomics.store(this.#words, RING_TURN_OPEN, 0);
    this.#ringDoorbell(false);
  };

  constructor(control: SharedArrayBuffer, ring: SharedArrayBuffer) {
    const { words, index, data } = viewsOf(ring);
    this.#words = words;
    this.#index = index;
    this.#data = data;
    this.capacity = data.length;
    this.slots = index.length;
    this.#byteMask = this.capacity - 1;
    this.#slotMask = this.slots - 1;
    this.#control = new Int32Array(control);
    this.#head = Atomics.load(words, RING_HEAD) >>> 0;
    this.#tailSeen = Atomics.load(words, RING_TAIL) >>> 0;
    this.#tailRecordsSeen = Atomics.load(words, RING_TAIL_RECORDS) >>> 0;
    // A fresh ring: the reader has consumed all, so records published = records consumed.
    this.#records = this.#tailRecordsSeen;
    this.#publishedHead = this.#head;
    this.#publishedRecords = this.#records;
    this.#fillBytes = this.#head;
    this.#fillRecords = this.#records;
    this.#viewShift = Math.max(0, Math.log2(this.capacity / MAX_VIEWS)) | 0;
  }

  /**
   * Sets the wake policy: 0 (the default) rings a sleeping reader at every
   * publish; more defers the ring to the end of this thread's event-loop
   * turn unless that many bytes wait in the ring.
   */
  setWakeBytes(bytes: number): void {
    this.#wakeBytes = bytes;
    Atomics.store(this.#words, RING_WAKE_BYTES, bytes);
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

  /** The published byte cursor. */
  get head(): number {
    return this.#publishedHead;
  }

  /** Records published: with `head`, what `flush()` waits for the tails to reach. */
  get records(): number {
    return this.#publishedRecords;
  }

  /**
   * True if `records` index slots and `bytes` data bytes are free. Reloads
   * the tails only when the ones last seen are not enough.
   */
  hasRoom(records: number, bytes: number): boolean {
    if (this.#fits(records, bytes)) return true;
    this.#tailRecordsSeen = Atomics.load(this.#words, RING_TAIL_RECORDS) >>> 0;
    this.#tailSeen = Atomics.load(this.#words, RING_TAIL) >>> 0;
    return this.#fits(records, bytes);
  }

  /** Data bytes free now, if an index slot is free too; else 0 (reloads the tails). */
  freeBytes(): number {
    this.#tailRecordsSeen = Atomics.load(this.#words, RING_TAIL_RECORDS) >>> 0;
    this.#tailSeen = Atomics.load(this.#words, RING_TAIL) >>> 0;
    return this.#fits(1, 1) ? this.capacity - ((this.#head - this.#tailSeen) >>> 0) : 0;
  }

  /**
   * The one reservation step: claims `records` index slots and `bytes` data
   * bytes after the placed records, if the reader has freed them.
   */
  reserve(records: number, bytes: number): boolean {
    if (!this.hasRoom(records, bytes)) return false;
    this.#fillBytes = this.#head;
    this.#fillRecords = this.#records;
    return true;
  }

  /**
   * The fast path of reserve, `putRecord`, `putPayload` and `place` for one
   * plain record: copies `source` (1 byte or more) after the placed records
   * and places it, with no reservation open; false, with nothing changed,
   * if the reader has not freed room for it (or it is empty). One function,
   * so a write pays for the cursors once.
   */
  placeRecord(source: Uint8Array): boolean {
    const length = source.length;
    const head = this.#head;
    const records = this.#records;
    const capacity = this.capacity;
    if (length === 0) return false;
    // #fits and the cursor steps of #placePlain, written out: as calls they
    // cost this write 55 instructions (callgrind, 64 B fresh messages: 2543
    // -> 2598), where reserveView() measured no difference. The tails last
    // seen first; reloaded only when they are not enough.
    if (
      (this.slots - ((records - this.#tailRecordsSeen) >>> 0) < 1 ||
        capacity - ((head - this.#tailSeen) >>> 0) < length) &&
      !this.hasRoom(1, length)
    ) {
      return false;
    }
    this.#index[records & this.#slotMask] = length;
    const position = head & this.#byteMask;
    const room = capacity - position;
    if (length <= room) {
      this.#data.set(source, position);
    } else {
      this.#data.set(source.subarray(0, room), position);
      this.#data.set(source.subarray(room), 0);
    }
    this.#head = this.#fillBytes = (head + length) >>> 0;
    this.#records = this.#fillRecords = (records + 1) >>> 0;
    return true;
  }

  /**
   * Places one plain record of `length` bytes after the placed ones, with no
   * reservation open and room for it checked: its index entry, and every
   * cursor past it (the bytes are the caller's to copy). Returns where its
   * bytes start in the data area.
   */
  #placePlain(length: number): number {
    const head = this.#head;
    const records = this.#records;
    this.#index[records & this.#slotMask] = length;
    this.#head = this.#fillBytes = (head + length) >>> 0;
    this.#records = this.#fillRecords = (records + 1) >>> 0;
    return head & this.#byteMask;
  }

  /** Writes the index entry of the next record: its length (never 0) and flags. */
  putRecord(length: number, flags: number): void {
    this.#index[this.#fillRecords & this.#slotMask] = length | flags;
    this.#fillRecords = (this.#fillRecords + 1) >>> 0;
  }

  /** Copies `source[start, end)` at the fill point, wrapping around the data area's end. */
  putPayload(source: Uint8Array, start: number, end: number): void {
    const position = this.#fillBytes & this.#byteMask;
    const length = end - start;
    const room = this.capacity - position;
    // The common case first: a whole chunk that does not wrap needs no view.
    if (length <= room) {
      this.#data.set(start === 0 && end === source.length ? source : source.subarray(start, end), position);
    } else {
      this.#data.set(source.subarray(start, start + room), position);
      this.#data.set(source.subarray(start + room, end), 0);
    }
    this.#fillBytes = (this.#fillBytes + length) >>> 0;
  }

  /**
   * Reserves one record of `length` bytes (at most `capacity`) and returns
   * the ring's bytes for it, contiguous, to be filled in place; null if the
   * reader has not freed enough. The record is placed at once (the next
   * reservation follows it) and becomes visible at the next `publish()`.
   *
   * One that would wrap around the data area's end is preceded by a padding
   * record filling that end. When the padding fits but the record does not
   * yet, the padding is placed alone (and published, unless reservations are
   * open: padding is no message) and null returned: the next try starts at
   * the area's start.
   */
  reserveView(length: number): Buffer | null {
    // The common case first, in one step: no padding, and room by the
    // tails last seen.
    if (length <= this.capacity - (this.#head & this.#byteMask) && this.#fits(1, length)) {
      return this.#viewOf(this.#placePlain(length), length);
    }
    const pad = this.#padBefore(length);
    if (pad !== 0) {
      if (!this.hasRoom(1, pad)) return null;
      const both = this.hasRoom(2, pad + length);
      const open = this.hasUnpublished;
      this.#fillBytes = this.#head;
      this.#fillRecords = this.#records;
      this.putRecord(pad, RECORD_PADDING);
      this.#fillBytes = (this.#fillBytes + pad) >>> 0;
      this.place();
      if (!both) {
        if (!open) this.publish();
        return null;
      }
    } else if (!this.hasRoom(1, length)) {
      return null;
    }
    this.#fillBytes = this.#head;
    this.#fillRecords = this.#records;
    this.putRecord(length, 0);
    const start = this.#fillBytes & this.#byteMask;
    this.#fillBytes = (this.#fillBytes + length) >>> 0;
    this.place();
    return this.#viewOf(start, length);
  }

  /** The data area's bytes `[start, start + length)`: a cached view if one covers exactly them. */
  #viewOf(start: number, length: number): Buffer {
    const starts = this.#viewStarts ?? this.#makeViewCache();
    const key = start >>> this.#viewShift;
    const views = this.#views as (Buffer | null)[];
    if (starts[key] === start && (this.#viewLengths as Int32Array)[key] === length)
      return views[key] as Buffer;
    const view = this.#data.subarray(start, start + length);
    views[key] = view;
    starts[key] = start;
    (this.#viewLengths as Int32Array)[key] = length;
    return view;
  }

  #makeViewCache(): Int32Array {
    const entries = Math.min(MAX_VIEWS, this.capacity);
    this.#views = new Array<Buffer | null>(entries).fill(null);
    this.#viewLengths = new Int32Array(entries);
    this.#viewStarts = new Int32Array(entries).fill(-1);
    return this.#viewStarts;
  }

  /** The room the next `reserveView(length)` step needs: index slots and data bytes. */
  viewNeeds(length: number): [records: number, bytes: number] {
    const pad = this.#padBefore(length);
    if (pad === 0) return [1, length];
    return pad + length <= this.capacity ? [2, pad + length] : [1, pad];
  }

  /** Bytes of padding a contiguous record of `length` needs first: the rest of the area, if it does not fit there. */
  #padBefore(length: number): number {
    const room = this.capacity - (this.#head & this.#byteMask);
    return length <= room ? 0 : room;
  }

  /** True while records are placed and not yet published (reservations not committed). */
  get hasUnpublished(): boolean {
    return this.#head !== this.#publishedHead;
  }

  /** Drops every placed record not yet published: they were never visible. */
  dropUnpublished(): void {
    this.#head = this.#publishedHead;
    this.#records = this.#publishedRecords;
    this.#fillBytes = this.#head;
    this.#fillRecords = this.#records;
  }

  /**
   * Completes the reserved records without making them visible: the next
   * reservation follows them, and the next `publish()` shows them with any
   * placed before. A run of records (one `_writev`) is published once.
   */
  place(): void {
    this.#head = this.#fillBytes;
    this.#records = this.#fillRecords;
  }

  /**
   * Makes the reserved and placed records visible: the head is stored after
   * their bytes and index entries, so the reader can never see a record that
   * is not all there. Then, if the reader sleeps, wakes it: at once if the
   * policy is eager or enough bytes wait, else at the end of this turn.
   */
  publish(): void {
    this.place();
    if (this.#head === this.#publishedHead) return;
    this.#publishedHead = this.#head;
    this.#publishedRecords = this.#records;
    Atomics.store(this.#words, RING_HEAD, this.#head | 0);
    if (this.#wakeBytes !== 0 && !this.#turnOpen) {
      this.#turnOpen = true;
      Atomics.store(this.#words, RING_TURN_OPEN, 1);
      setImmediate(this.#onTurnEnd);
    }
    // Below the threshold a sleeping reader is rung at the turn's end, not
    // now, so the flag need not be loaded: with a batched writer streaming,
    // most publishes skip that builtin call. The tail by a plain read, for
    // the same reason: one that lags the reader's store makes the bytes
    // waiting look more, never fewer, so the flag is skipped only when they
    // are truly below the threshold (and the reader, which counts from its
    // own cursor, sees no more).
    if (this.#wakeBytes !== 0 && (this.#head - this.#words[RING_TAIL]) >>> 0 < this.#wakeBytes) return;
    // The flag is loaded (there) after the head and the turn are stored: a
    // reader that set it before its last look either saw them or is rung,
    // now or at the turn's end.
    this.#ringDoorbell(false);
  }

  /**
   * The give-back path: drops the reservation unpublished. Nothing shared was
   * changed by reserving, so the reader never sees these bytes and the next
   * reservation starts at the same cursors (records placed before it stay).
   */
  giveBack(): void {
    this.#fillBytes = this.#head;
    this.#fillRecords = this.#records;
  }

  // ---- Waiting on the tail ---------------------------------------------------

  /** The tails at which `records` slots and `bytes` bytes are free after the head. */
  roomTarget(records: number, bytes: number): [records: number, bytes: number] {
    return [(this.#records + records - this.slots) >>> 0, (this.#head + bytes - this.capacity) >>> 0];
  }

  /** True once the reader's tails have reached both targets (reloads them). */
  tailsReached(records: number, bytes: number): boolean {
    this.#tailRecordsSeen = Atomics.load(this.#words, RING_TAIL_RECORDS) >>> 0;
    this.#tailSeen = Atomics.load(this.#words, RING_TAIL) >>> 0;
    return reached(this.#tailRecordsSeen, records) && reached(this.#tailSeen, bytes);
  }

  /**
   * Announces a wait until the tails reach the targets, under a fresh wait
   * number, and returns the wake counter to wait on. The targets and the
   * number are stored before the counter is loaded, and the caller looks at
   * the tails (and the reader's state) after this: a reader that moves the
   * tails after that look sees the number and bumps the counter, so the wait
   * on the value returned here cannot miss it.
   */
  prepareTailWait(records: number, bytes: number): number {
    this.#waitNumber = (this.#waitNumber + 1) | 0 || 1;
    Atomics.store(this.#words, RING_WAIT_RECORDS, records | 0);
    Atomics.store(this.#words, RING_WAIT_BYTES, bytes | 0);
    Atomics.store(this.#words, RING_WAITING, this.#waitNumber);
    return Atomics.load(this.#words, RING_WAKE);
  }

  /**
   * Waits without blocking until the wake counter moves from `seen`; null if
   * it already has. No timeout: on Node 20 a finite timeout leaks in a loop,
   * and the reader always bumps and notifies (targets reached, or it goes
   * away), as does this thread's own `wakeOwnWait()`.
   */
  waitOnTailAsync(seen: number): Promise<'ok' | 'timed-out'> | null {
    // A ring deferred to the turn's end must not wait behind this wait.
    this.#ringDoorbell(false);
    const result = Atomics.waitAsync(this.#words, RING_WAKE, seen);
    return result.async ? result.value : null;
  }

  /** Blocks the thread until the wake counter moves from `seen` (blocking mode; workers only). */
  waitOnTail(seen: number): void {
    // The turn does not end while this thread blocks: a deferred ring goes now.
    this.#ringDoorbell(false);
    Atomics.wait(this.#words, RING_WAKE, seen);
  }

  /** The wait is over: the reader need not notify any more. Only the writer clears its flag. */
  endTailWait(): void {
    Atomics.store(this.#words, RING_WAITING, 0);
  }

  /** Settles this thread's own pending wait (when giving up on it). */
  wakeOwnWait(): void {
    Atomics.notify(this.#words, RING_WAKE);
  }

  #fits(records: number, bytes: number): boolean {
    return (
      this.slots - ((this.#records - this.#tailRecordsSeen) >>> 0) >= records &&
      this.capacity - ((this.#head - this.#tailSeen) >>> 0) >= bytes
    );
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
 * pair of tail stores per `commit()`.
 *
 * Messages taken into a batch are not copied one by one: consecutive ones
 * form a run, copied with one copy (two if it wraps) before the commit.
 */
export class RingReader {
  readonly #words: Int32Array;
  readonly #index: Int32Array;
  readonly #data: Buffer;
  readonly capacity: number;
  readonly #byteMask: number;
  readonly #slotMask: number;

  /** The number of the writer's wait last notified: one notify per wait. */
  #notifiedWait = 0;
  /** Cursors of what is taken (copied or in the run): the next message starts here. */
  #readBytes: number;
  #readRecords: number;
  /** The byte cursor as last stored to the tail. */
  #committedBytes: number;
  /** The head as last loaded: records ending at or before it are complete. */
  #head: number;
  /** Index entry of the message `nextMessageLength` found in the ring. */
  #entry = 0;
  /** Fragments of a message larger than the ring, copied out so the writer can go on. */
  #fragments: Buffer[] = [];
  /** Bytes in `#fragments`. */
  #fragmentBytes = 0;
  /** A reassembled message waiting to be taken, or null. */
  #assembled: Buffer | null = null;
  /** The run: messages taken into `#runTarget` from `#runOffset` on, not copied yet. */
  #runTarget: Buffer | null = null;
  #runOffset = 0;
  /** Where the run starts in the ring, and its bytes. */
  #runStart = 0;
  #runBytes = 0;

  constructor(ring: SharedArrayBuffer) {
    const { words, index, data } = viewsOf(ring);
    this.#words = words;
    this.#index = index;
    this.#data = data;
    this.capacity = data.length;
    this.#byteMask = this.capacity - 1;
    this.#slotMask = index.length - 1;
    this.#head = Atomics.load(words, RING_HEAD) >>> 0;
    this.#readBytes = Atomics.load(words, RING_TAIL) >>> 0;
    this.#readRecords = Atomics.load(words, RING_TAIL_RECORDS) >>> 0;
    this.#committedBytes = this.#readBytes;
  }

  /** True once the writer stored its end; read before the head, so the head is then final. */
  writerEnded(): boolean {
    return Atomics.load(this.#words, RING_WRITER_STATE) === WRITER_ENDED;
  }

  /** Loads the head: what the writer has published so far. */
  refresh(): void {
    this.#head = Atomics.load(this.#words, RING_HEAD) >>> 0;
  }

  /** True if a message (or a fragment) is published and not taken, or reassembled (as of `refresh()`). */
  get hasPending(): boolean {
    return this.#head !== this.#readBytes || this.#assembled !== null;
  }

  /**
   * A bound on the bytes of the messages that can complete now: published
   * bytes not taken, a reassembled message, and fragments already copied out.
   */
  get boundBytes(): number {
    return (
      ((this.#head - this.#readBytes) >>> 0) +
      (this.#assembled === null ? 0 : this.#assembled.length) +
      this.#fragmentBytes
    );
  }

  /**
   * True if the records pending (as of `refresh()`) are worth taking now by
   * the writer's wake policy: it is eager, or they reach its threshold, or
   * its turn is over, or it waits for the reader; also while a fragmented
   * message is in progress (its fragments free the writer's ring).
   */
  get ready(): boolean {
    if (this.#assembled !== null || this.#fragments.length > 0) return true;
    const words = this.#words;
    const wakeBytes = Atomics.load(words, RING_WAKE_BYTES);
    return (
      wakeBytes === 0 ||
      (this.#head - this.#readBytes) >>> 0 >= wakeBytes ||
      Atomics.load(words, RING_TURN_OPEN) === 0 ||
      Atomics.load(words, RING_WAITING) !== 0
    );
  }

  /** True while part of a fragmented message is held: dropped if the writer dies. */
  get holdsPartialMessage(): boolean {
    return this.#fragments.length > 0;
  }

  /**
   * Bytes of the next complete message, or -1 if none is complete (as of the
   * last `refresh()`). Fragments of a message larger than the ring are moved
   * out of the ring here, so its writer can go on.
   *
   * @throws RangeError `ERR_OUT_OF_RANGE` if a record is empty or claims more
   *   bytes than were published: the ring is corrupt (a writer broke the protocol).
   */
  nextMessageLength(): number {
    if (this.#assembled !== null) return this.#assembled.length;
    for (;;) {
      const published = (this.#head - this.#readBytes) >>> 0;
      if (published === 0) return -1;
      // Bytes are published, so the record they start is complete.
      const entry = this.#index[this.#readRecords & this.#slotMask];
      const length = entry & RECORD_LENGTH_MASK;
      if (length === 0 || length > published) {
        throw outOfRange('record length', `>= 1 && <= ${published}`, length);
      }
      if ((entry & RECORD_PADDING) === RECORD_PADDING) {
        // No message: the run cannot go on across it (its bytes are not copied).
        this.#copyRun();
        this.#advance(length);
        continue;
      }
      // The common case: a whole message in the ring, taken in place.
      if ((entry & RECORD_MORE) === 0 && this.#fragments.length === 0) {
        this.#entry = entry;
        return length;
      }
      this.#copyRun();
      const fragment = Buffer.allocUnsafe(length);
      this.#copyOut(fragment, 0, this.#readBytes, length);
      this.#advance(length);
      this.#fragments.push(fragment);
      this.#fragmentBytes += length;
      if ((entry & RECORD_MORE) === 0) {
        this.#assembled = Buffer.concat(this.#fragments, this.#fragmentBytes);
        this.#fragments = [];
        this.#fragmentBytes = 0;
        this.#entry = entry;
        return this.#assembled.length;
      }
    }
  }

  /** Flags of the message `nextMessageLength()` found. */
  get nextMessageFlags(): number {
    return this.#entry & ~RECORD_LENGTH_MASK;
  }

  /**
   * Takes the next message (of `length` bytes, as found) into `target` at
   * `offset`: it joins the run, copied at the latest by `commit()`.
   */
  takeMessageInto(target: Buffer, offset: number, length: number): void {
    const assembled = this.#assembled;
    if (assembled !== null) {
      this.#assembled = null;
      target.set(assembled, offset);
      return;
    }
    this.#joinRun(target, offset, length);
    this.#advance(length);
  }

  /**
   * Takes the whole messages that come next, as long as each is a plain
   * record (no flags: not a fragment, padding, or part of a group larger
   * than `size`) and all fit in `room` bytes, into `target` at `offset`:
   * they join the run, as `takeMessageInto` would add them one by one, in
   * one tight loop over the index. Returns the bytes taken; 0 when the next
   * record is none of those (or a message is being reassembled), for
   * `nextMessageLength()` to look at with all its checks.
   */
  takePlainMessages(target: Buffer, offset: number, room: number): number {
    if (this.#assembled !== null || this.#fragments.length > 0) return 0;
    const index = this.#index;
    const mask = this.#slotMask;
    const head = this.#head;
    let read = this.#readBytes;
    let records = this.#readRecords;
    let bytes = 0;
    for (;;) {
      const published = (head - read) >>> 0;
      if (published === 0) break;
      // A plain record's entry is its length: in 1..published, no flag set.
      const entry = index[records & mask];
      if (entry <= 0 || entry > published || bytes + entry > room) break;
      bytes += entry;
      read = (read + entry) >>> 0;
      records = (records + 1) >>> 0;
    }
    if (bytes === 0) return 0;
    this.#joinRun(target, offset, bytes);
    this.#readBytes = read;
    this.#readRecords = records;
    this.#entry = 0;
    return bytes;
  }

  /** Takes the next message (of `length` bytes) as a Buffer of its own: one that goes alone. */
  takeMessageAlone(length: number): Buffer {
    const assembled = this.#assembled;
    if (assembled !== null) {
      this.#assembled = null;
      return assembled;
    }
    this.#copyRun();
    const message = Buffer.allocUnsafeSlow(length);
    this.#copyOut(message, 0, this.#readBytes, length);
    this.#advance(length);
    return message;
  }

  /** Drops a partly reassembled message: its writer died before its last fragment. */
  dropPartialMessage(): void {
    this.#fragments = [];
    this.#fragmentBytes = 0;
  }

  /**
   * Copies the run, then gives the space taken back to the writer (the tail
   * stores), and wakes the writer if it waits for no more than that. The
   * writer's wait flag is only read here: the writer owns it, so a flag it
   * re-arms for a new target is never wiped.
   */
  commit(): void {
    this.#copyRun();
    if (this.#readBytes === this.#committedBytes) return;
    const words = this.#words;
    this.#committedBytes = this.#readBytes;
    Atomics.store(words, RING_TAIL_RECORDS, this.#readRecords | 0);
    Atomics.store(words, RING_TAIL, this.#readBytes | 0);
    const wait = Atomics.load(words, RING_WAITING);
    if (
      wait !== 0 &&
      wait !== this.#notifiedWait &&
      reached(this.#readRecords, Atomics.load(words, RING_WAIT_RECORDS) >>> 0) &&
      reached(this.#readBytes, Atomics.load(words, RING_WAIT_BYTES) >>> 0)
    ) {
      this.#notifiedWait = wait;
      this.wakeWriter();
    }
  }

  /**
   * Wakes the writer whatever it waits for (and its next wait, if it is about
   * to start one): the counter moves before the notify.
   */
  wakeWriter(): void {
    Atomics.add(this.#words, RING_WAKE, 1);
    Atomics.notify(this.#words, RING_WAKE);
  }

  #advance(length: number): void {
    this.#readBytes = (this.#readBytes + length) >>> 0;
    this.#readRecords = (this.#readRecords + 1) >>> 0;
  }

  /**
   * Adds the `bytes` that come next in the ring to the run, which goes to
   * `target` at `offset`: where the run so far ends there, they extend it;
   * else it is copied out and a new run starts with them.
   */
  #joinRun(target: Buffer, offset: number, bytes: number): void {
    if (this.#runTarget !== target || this.#runOffset + this.#runBytes !== offset) {
      this.#copyRun();
      this.#runTarget = target;
      this.#runOffset = offset;
      this.#runStart = this.#readBytes;
    }
    this.#runBytes += bytes;
  }

  /** Copies the run into its target: one copy, or two where it wraps. */
  #copyRun(): void {
    const target = this.#runTarget;
    if (target === null) return;
    this.#copyOut(target, this.#runOffset, this.#runStart, this.#runBytes);
    this.#runTarget = null;
    this.#runBytes = 0;
  }

  /** Copies `length` ring bytes from cursor `start` into `target` at `offset`. */
  #copyOut(target: Buffer, offset: number, start: number, length: number): void {
    const position = start & this.#byteMask;
    const room = this.capacity - position;
    if (length <= room) {
      this.#data.copy(target, offset, position, position + length);
    } else {
      this.#data.copy(target, offset, position, this.capacity);
      this.#data.copy(target, offset + room, 0, length - room);
    }
  }
}
