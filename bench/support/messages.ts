/**
 * The data the bench sends, and the checks that prove it arrived intact.
 *
 * A byte message is `size` bytes: producer id (u32 LE), sequence number
 * (u32 LE), filler, and a trailer (u32 LE) derived from both. The receiver
 * checks that every producer's messages arrive once each, in order, whole and
 * aligned: a lost, repeated, reordered, split or shifted message breaks the
 * sequence or the trailer.
 */

// From its module: the Buffer global is a getter, and makeMessage runs once a
// message for every variant (callgrind: 170 instructions a message, 15% of
// the hand-rolled loop's, paid by all alike).
import { Buffer } from 'node:buffer';

/** Smallest message: header and trailer. */
export const MIN_MESSAGE_SIZE = 12;

/** Sent once per connection before any message: magic, message size, producers. */
export const PREAMBLE_SIZE = 12;
const PREAMBLE_MAGIC = 0x7273776d; // 'mwsr' little-endian

export function trailerOf(producer: number, seq: number): number {
  return (Math.imul(producer + 1, 0x9e3779b1) ^ seq) >>> 0;
}

/** Stores `value` as u32 LE at `offset`: plain byte stores, cheaper than `writeUInt32LE`'s checks. */
function storeU32(target: Buffer, offset: number, value: number): void {
  target[offset] = value;
  target[offset + 1] = value >>> 8;
  target[offset + 2] = value >>> 16;
  target[offset + 3] = value >>> 24;
}

/**
 * A fresh message (the writer gives it away; streams may hold it until
 * written). Its cost is part of every variant, so it is kept small: a pooled
 * allocation and twelve byte stores; the filler is left as allocated.
 */
export function makeMessage(size: number, producer: number, seq: number): Buffer {
  const message = Buffer.allocUnsafe(size);
  storeU32(message, 0, producer);
  storeU32(message, 4, seq);
  storeU32(message, size - 4, trailerOf(producer, seq));
  return message;
}

/**
 * The sequence number of a reused message: a producer that writes the same
 * buffer again and again cannot number its messages, so the receiver only
 * counts them (still checking producer, alignment and trailer).
 */
export const REUSED_SEQ = 0xffffffff;

/** The one message a producer of the reused-buffer shape writes over and over. */
export function makeReusedMessage(size: number, producer: number): Buffer {
  const message = Buffer.alloc(size);
  storeU32(message, 0, producer);
  storeU32(message, 4, REUSED_SEQ);
  storeU32(message, size - 4, trailerOf(producer, REUSED_SEQ));
  return message;
}

export function makePreamble(messageSize: number, producers: number): Buffer {
  const preamble = Buffer.allocUnsafe(PREAMBLE_SIZE);
  preamble.writeUInt32LE(PREAMBLE_MAGIC, 0);
  preamble.writeUInt32LE(messageSize, 4);
  preamble.writeUInt32LE(producers, 8);
  return preamble;
}

/** What the server reports for one connection, as one JSON line. */
export interface ServerReport {
  ok: boolean;
  error?: string;
  bytes: number;
  messages: number;
  /** Messages received per producer. */
  perProducer: number[];
}

/**
 * Checks a byte stream of messages as it arrives in arbitrary pieces. The
 * first PREAMBLE_SIZE bytes configure it.
 */
export class ByteChecker {
  bytes = 0;
  messages = 0;
  error: string | null = null;
  #messageSize = 0;
  #expected = new Uint32Array(0);
  /** A message (or the preamble) cut by a piece boundary, bytes [0, #carried). */
  #carry = Buffer.alloc(PREAMBLE_SIZE);
  #carried = 0;
  #configured = false;

  push(piece: Buffer): void {
    if (this.error !== null) return;
    this.bytes += piece.length;
    let offset = 0;
    if (this.#carried > 0 || !this.#configured) {
      const need = (this.#configured ? this.#messageSize : PREAMBLE_SIZE) - this.#carried;
      const take = Math.min(need, piece.length);
      piece.copy(this.#carry, this.#carried, 0, take);
      this.#carried += take;
      offset = take;
      if (take < need) return;
      this.#carried = 0;
      if (this.#configured) {
        const carry = this.#carry;
        if (!this.#checkAt(new DataView(carry.buffer, carry.byteOffset, carry.length), 0)) return;
      } else {
        this.#configure(this.#carry);
        if (this.error !== null) return;
      }
    }
    const size = this.#messageSize;
    const end = piece.length - size;
    const view = new DataView(piece.buffer, piece.byteOffset, piece.length);
    for (; offset <= end; offset += size) {
      if (!this.#checkAt(view, offset)) return;
    }
    if (offset < piece.length) {
      piece.copy(this.#carry, 0, offset);
      this.#carried = piece.length - offset;
    }
  }

  /** Called at the end of the stream. */
  report(): ServerReport {
    let error = this.error;
    if (error === null && this.#carried > 0) error = `stream ended inside a message (${this.#carried} bytes)`;
    if (error === null && !this.#configured) error = 'no preamble';
    return {
      ok: error === null,
      ...(error === null ? {} : { error }),
      bytes: Math.max(0, this.bytes - PREAMBLE_SIZE),
      messages: this.messages,
      perProducer: Array.from(this.#expected),
    };
  }

  #configure(preamble: Buffer): void {
    if (preamble.readUInt32LE(0) !== PREAMBLE_MAGIC) {
      this.error = 'bad preamble';
      return;
    }
    this.#messageSize = preamble.readUInt32LE(4);
    this.#expected = new Uint32Array(preamble.readUInt32LE(8));
    if (this.#messageSize < MIN_MESSAGE_SIZE) this.error = `bad message size ${this.#messageSize}`;
    this.#carry = Buffer.alloc(Math.max(this.#messageSize, PREAMBLE_SIZE));
    this.#configured = true;
  }

  /** Checks the message at `offset`; false (with `error` set) if it is wrong. */
  #checkAt(view: DataView, offset: number): boolean {
    const producer = view.getUint32(offset, true);
    const seq = view.getUint32(offset + 4, true);
    const expected = this.#expected;
    if (producer >= expected.length) {
      this.error = `message ${this.messages}: bad producer ${producer}`;
    } else if (seq !== expected[producer] && seq !== REUSED_SEQ) {
      this.error = `message ${this.messages}: producer ${producer} sent seq ${seq}, expected ${expected[producer]}`;
    } else if (view.getUint32(offset + this.#messageSize - 4, true) !== trailerOf(producer, seq)) {
      this.error = `message ${this.messages}: bad trailer (producer ${producer}, seq ${seq})`;
    } else {
      expected[producer]++; // seq + 1, or one more reused message counted
      this.messages++;
      return true;
    }
    return false;
  }
}

/** One item of the objects scenario. */
export interface Item {
  /** Producer id. */
  p: number;
  /** Sequence number within the producer. */
  s: number;
}

/**
 * Checks batches of items: each batch holds 1..maxBatch items, and every
 * producer's items arrive once each, in order.
 */
export class ItemChecker {
  items = 0;
  batches = 0;
  error: string | null = null;
  readonly #expected: Uint32Array;
  readonly #maxBatch: number;

  constructor(producers: number, maxBatch: number) {
    this.#expected = new Uint32Array(producers);
    this.#maxBatch = maxBatch;
  }

  check(batch: unknown): void {
    if (this.error !== null) return;
    if (!Array.isArray(batch)) {
      this.error = `batch ${this.batches} is not an array`;
      return;
    }
    if (batch.length === 0 || batch.length > this.#maxBatch) {
      this.error = `batch ${this.batches} holds ${batch.length} items`;
      return;
    }
    const expected = this.#expected;
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as Item;
      if (item.s !== expected[item.p]) {
        this.error = `item ${this.items}: producer ${item.p} sent seq ${item.s}, expected ${expected[item.p]}`;
        return;
      }
      expected[item.p]++;
      this.items++;
    }
    this.batches++;
  }

  /** Null when every producer's count matches what it sent; else what went wrong. */
  verify(sent: Uint32Array): string | null {
    if (this.error !== null) return this.error;
    return compareCounts(sent, this.#expected);
  }
}

/** Null when the receiver counted exactly what each producer sent. */
export function compareCounts(sent: ArrayLike<number>, received: ArrayLike<number>): string | null {
  if (sent.length !== received.length) return `${received.length} producers seen, ${sent.length} sent`;
  for (let producer = 0; producer < sent.length; producer++) {
    if (sent[producer] !== received[producer]) {
      return `producer ${producer}: sent ${sent[producer]}, received ${received[producer]}`;
    }
  }
  return null;
}
