/**
 * The shared-memory layout of a worker channel, in one place (STYLE 15).
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
 * Cursors are byte counts that wrap modulo 2^32: they are stored as Int32
 * and only ever compared through `(a - b) >>> 0`, so the sign bit means
 * nothing (specs start them near 2^31 and 2^32 to prove it).
 */

/** Int32 slots per 64-byte cache line: the spacing between slots written by different threads. */
export const SLOTS_PER_LINE = 16;

// ---- Channel control block --------------------------------------------------

/**
 * Bumped (`Atomics.add`) by a writer that finds the reader asleep, then
 * `Atomics.notify`-ed; the reader sleeps on it with `Atomics.waitAsync` (no
 * timeout). Its own line: writers write it, and only when waking the reader.
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
/** Int32 slots in the control block. */
export const CONTROL_SLOTS = SLOTS_PER_LINE * 3;

export const READER_OPEN = 0;
export const READER_CLOSED = 1;

// ---- Ring (one per writer thread) -------------------------------------------

/**
 * `RING_MAGIC_VALUE`: written by the reader when it creates the ring; checked
 * by the writer when it opens the handle, so a foreign buffer (or one of an
 * older layout) is refused instead of misread.
 */
export const RING_MAGIC = 0;
/** Bytes in the data area, a power of two; written once by the reader at creation. */
export const RING_CAPACITY = 1;
/**
 * The published write cursor: every byte before it holds complete records.
 * Written only by the writer, with `Atomics.store` after the record's bytes
 * are copied (the publish step); read by the reader with `Atomics.load`.
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
 * The consumed read cursor: bytes before it may be overwritten. Written only
 * by the reader, with `Atomics.store` after copying records out (the give-back
 * of ring space); the writer reads it for free space and waits on it
 * (`Atomics.waitAsync`, or `Atomics.wait` in blocking mode) when the ring is
 * full or a `flush()` is pending.
 */
export const RING_TAIL = SLOTS_PER_LINE * 2;
/**
 * 1 while the writer waits on the tail. Set by the writer before its last
 * look at the tail; the reader, after storing a new tail, clears it and
 * notifies. Its own line: both threads write it.
 */
export const RING_WRITER_WAITING = SLOTS_PER_LINE * 3;
/** Bytes before the data area: the header's four lines. */
export const RING_DATA_OFFSET = SLOTS_PER_LINE * 4 * 4;

/** 'mwR1': layout version 1. */
export const RING_MAGIC_VALUE = 0x6d775231;

export const WRITER_UNCLAIMED = 0;
export const WRITER_ATTACHED = 1;
export const WRITER_ENDED = 2;

/** Smallest and largest ring data area, in bytes (both powers of two). */
export const MIN_RING_CAPACITY = 1024;
export const MAX_RING_CAPACITY = 2 ** 30;

// ---- Records in the data area ----------------------------------------------

/*
 * A record is one header word, then its payload, padded to 4 bytes, so every
 * header is 4-aligned and never wraps (the payload may wrap around the end of
 * the data area). Cursors and the capacity are multiples of 4.
 *
 * A record is a whole message (one write(), or one writeV() group of at most
 * `size` bytes) unless the message is larger than the ring can ever hold:
 * then it is cut into fragments, all but the last flagged RECORD_MORE, and the
 * reader reassembles them; a fragmented message whose writer dies before its
 * last fragment is dropped whole.
 */

/** Bytes of a record header. */
export const RECORD_HEADER_BYTES = 4;
/** Header bits 0..29: payload bytes of this record (or fragment). */
export const RECORD_LENGTH_MASK = 0x3fffffff;
/** Header bit 30: the message continues in the next record (a fragment). */
export const RECORD_MORE = 0x40000000;
/**
 * Header bit 31: the next message of this ring belongs to the same writeV()
 * group (a group larger than `size`, sent chunk by chunk), so the reader takes
 * nothing from other rings before it (API.md 7).
 */
export const RECORD_GROUP_CONTINUES = 0x80000000 | 0;

/** Ring bytes a record of `payload` bytes occupies: header plus payload padded to 4. */
export function recordBytes(payload: number): number {
  return RECORD_HEADER_BYTES + ((payload + 3) & ~3);
}
