/**
 * The shared-memory layout of a worker channel, in one place.
 *
 * A channel is one small control block, shared by the reader and every
 * writer, plus one ring per writer thread. A ring has exactly one writer and
 * one reader, so no writer ever waits on another, and a writer that dies can
 * only leave behind bytes it had not published yet (the reader never sees
 * them).
 *
 * All words are `Int32` slots of an `Int32Array` over the `SharedArrayBuffer`,
 * accessed with `Atomics` where another thread reads or waits on them. Slots
 * written by different threads sit on different 64-byte cache lines, so a
 * writer storing its cursor does not slow the reader's cursor down (false
 * sharing); that, not alignment, is the reason for the spacing of 16 slots.
 *
 * Cursors (bytes, and records) are counts that wrap modulo 2^32: they are
 * stored as Int32 and only ever compared through `(a - b) >>> 0`, so the sign
 * bit means nothing (specs start them near 2^31 and 2^32 to prove it).
 */

/** Int32 slots per 64-byte cache line: the spacing between slots written by different threads. */
export const SLOTS_PER_LINE = 16;

// ---- Channel control block --------------------------------------------------

/**
 * Bumped (`Atomics.add`) by a writer that finds the reader asleep, or that
 * ends, then `Atomics.notify`-ed; the reader sleeps on it with
 * `Atomics.waitAsync` (no timeout). Its own line: writers write it, and only
 * when waking the reader.
 */
export const CONTROL_DOORBELL = 0;
/**
 * 1 while the reader sleeps (or is about to) on the doorbell; 0 otherwise.
 * Set by the reader before its last look at the rings; cleared by the reader
 * when it wakes, or by the first writer that rings (compare-exchange, so one
 * notify per sleep). Read by every writer after every publish, so it sits on a
 * line that is rarely written.
 */
export const CONTROL_READER_SLEEPING = SLOTS_PER_LINE;
/**
 * `READER_OPEN` or `READER_CLOSED`: written once by the reader when its stream
 * is destroyed; read by writers before each write and after each wait, so
 * their writes fail instead of filling a ring nobody reads.
 */
export const CONTROL_READER_STATE = SLOTS_PER_LINE * 2;
/**
 * The reader's `threadId`: written once by the reader when it creates the
 * channel; read by a writer when it opens its handle, to refuse blocking mode
 * on the reader's own thread (`Atomics.wait` there would deadlock). Same line
 * as the reader's state: both are written once.
 */
export const CONTROL_READER_THREAD = SLOTS_PER_LINE * 2 + 1;
/** Int32 slots in the control block. */
export const CONTROL_SLOTS = SLOTS_PER_LINE * 3;

export const READER_OPEN = 0;
export const READER_CLOSED = 1;

// ---- Ring (one per writer thread) -------------------------------------------

/*
 * A ring is a header, then a record index (one Int32 per record: its length
 * and flags), then the data area (the records' bytes, back to back, no
 * padding). Keeping lengths out of the data lets the reader copy a run of
 * records into a batch with one copy.
 */

/**
 * `RING_MAGIC_VALUE`: written by the reader when it creates the ring; checked
 * by the writer when it opens the handle, so a foreign buffer (or one of
 * another layout) is refused instead of misread.
 */
export const RING_MAGIC = 0;
/** Bytes in the data area, a power of two; written once by the reader at creation. */
export const RING_CAPACITY = 1;
/** Slots in the record index, a power of two; written once by the reader at creation. */
export const RING_SLOTS = 2;
/**
 * The writer's wake policy (`WorkerWritableOptions.wake`): 0 for `'eager'`,
 * else the bytes at which a `'batched'` writer wakes a sleeping reader at
 * once. Written once by the writer when it opens the handle, before it
 * publishes anything; read by the reader, which takes a ring's records when
 * that many wait, or the writer's turn is over (`RING_TURN_OPEN`), or the
 * writer waits or ends. On the header's line: written once, read often.
 */
export const RING_WAKE_BYTES = 3;
/**
 * The published byte cursor, the one publish word: every record that ends at
 * or before it is complete, bytes and index entry. Written only by the
 * writer, with `Atomics.store` after the copy; read by the reader with
 * `Atomics.load`. Records are never empty, so bytes pending means a record
 * pending.
 */
export const RING_HEAD = SLOTS_PER_LINE;
/**
 * Writer lifecycle, `WRITER_*`: the writer claims the ring (compare-exchange
 * from `WRITER_UNCLAIMED`, so one handle feeds one stream) and stores
 * `WRITER_ENDED` after its last publish. Same line as the head: both are the
 * writer's, and the reader reads the state before the head, so an ended ring's
 * head is final.
 */
export const RING_WRITER_STATE = SLOTS_PER_LINE + 1;
/**
 * 1 from a `'batched'` writer's first publish in an event-loop turn until
 * the end of that turn (a `setImmediate`), else 0. Stored by the writer
 * before it loads the reader's sleeping flag, at the turn's end too: a
 * reader that stored its flag and then saw 1 may sleep on records below
 * the threshold, as the writer's turn end will see its flag and ring. Same
 * line as the head: the writer's, read with it.
 */
export const RING_TURN_OPEN = SLOTS_PER_LINE + 2;
/**
 * Records consumed (a cursor into the index). Written only by the reader,
 * with `Atomics.store`, before `RING_TAIL`; the writer reads it for free
 * index slots.
 */
export const RING_TAIL_RECORDS = SLOTS_PER_LINE * 2;
/**
 * Bytes consumed: data before it may be overwritten. Written only by the
 * reader, with `Atomics.store` after copying records out (the give-back of
 * ring space) and after `RING_TAIL_RECORDS`; the writer reads it for free
 * bytes. It moves whenever records are consumed, as records are never empty.
 */
export const RING_TAIL = SLOTS_PER_LINE * 2 + 1;
/**
 * The wake counter, the one word a waiting writer waits on
 * (`Atomics.waitAsync`, or `Atomics.wait` in blocking mode). Bumped
 * (`Atomics.add`) by the reader before every notify of this ring: when the
 * writer's targets are reached, and when the reader goes away. A writer loads
 * it before its last look at the tails and at the reader's state, so a bump
 * after that look makes the wait return at once: no notify is ever lost, not
 * even one landing between the writer's last check and its wait. Written by
 * the reader only, and rarely, so it shares the tails' line.
 */
export const RING_WAKE = SLOTS_PER_LINE * 2 + 2;
/**
 * The writer's wait, owned by the writer (the reader only reads it): 0 when
 * it does not wait, else the number of this wait (a fresh non-zero value each
 * time the writer arms one). Stored by the writer after the two targets below
 * and before its last look at the tails; the reader notifies once per number,
 * so a writer that re-arms for a new target is never mistaken for one already
 * woken. Its own line, with the targets: the writer writes them, together.
 */
export const RING_WAITING = SLOTS_PER_LINE * 3;
/**
 * What the waiting writer needs: the reader notifies once `RING_TAIL_RECORDS`
 * has reached `RING_WAIT_RECORDS` and `RING_TAIL` has reached `RING_WAIT_BYTES`,
 * not at every commit. Written by the writer only, before `RING_WAITING`.
 */
export const RING_WAIT_RECORDS = SLOTS_PER_LINE * 3 + 1;
export const RING_WAIT_BYTES = SLOTS_PER_LINE * 3 + 2;
/** Bytes before the record index: the header's four lines. */
export const RING_INDEX_OFFSET = SLOTS_PER_LINE * 4 * 4;

/** Data bytes per index slot: records averaging fewer bytes fill the index first. */
export const BYTES_PER_SLOT = 16;

/** Byte offset of the data area in a ring of `capacity` data bytes. */
export function ringDataOffset(capacity: number): number {
  return RING_INDEX_OFFSET + (capacity / BYTES_PER_SLOT) * 4;
}

/** 'mwR4': layout version 4 (the wake policy words). */
export const RING_MAGIC_VALUE = 0x6d775234;

export const WRITER_UNCLAIMED = 0;
export const WRITER_ATTACHED = 1;
export const WRITER_ENDED = 2;

/**
 * Smallest and largest ring data area, in bytes (both powers of two). A
 * record is at most the ring's capacity, so the largest must fit the record
 * length field (`RECORD_LENGTH_MASK`, 2^30 - 1): a 2^30-byte ring would let a
 * 2^30-byte record encode as length 0.
 */
export const MIN_RING_CAPACITY = 1024;
export const MAX_RING_CAPACITY = 2 ** 29;

// ---- Records ------------------------------------------------------------------

/*
 * A record is a whole message (one write(), or one writeV() group of at most
 * `size` bytes) unless the message is larger than the ring can hold at once:
 * then it is cut into fragments, all but the last flagged RECORD_MORE, and the
 * reader reassembles them; a fragmented message whose writer dies before its
 * last fragment is dropped whole. Records are never empty.
 */

/** Index entry bits 0..29: bytes of the record. */
export const RECORD_LENGTH_MASK = 0x3fffffff;
/** Index entry bit 30: the message continues in the next record (a fragment). */
export const RECORD_MORE = 0x40000000;
/**
 * Index entry bit 31: the next message of this ring belongs to the same
 * writeV() group (a group larger than `size`, sent chunk by chunk), so the
 * reader takes nothing from other rings before it (docs/semantics.md 7).
 */
export const RECORD_GROUP_CONTINUES = 0x80000000 | 0;
/**
 * Both bits 30 and 31 (never set together otherwise): padding, no message.
 * A reservation (`WorkerWritable.reserve()`) must be contiguous, so one
 * that would wrap around the data area's end first fills the rest of the
 * area with a padding record; the reader skips it.
 */
export const RECORD_PADDING = RECORD_MORE | RECORD_GROUP_CONTINUES;
