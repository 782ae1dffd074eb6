// The open batch of the batching core (lib/batch-core.ts), one class a mode:
// bytes copied into one contiguous Buffer, or items gathered into an array.
// Leaf code: no stream state, no timers.

// Buffer from its module: Node defines the global as a getter, which costs a
// getter call on every use in a hot path.
import { Buffer } from 'node:buffer';

/**
 * The open batch: units go in one by one, the batch comes out whole.
 * @internal
 */
export interface Accumulator<B> {
  /** Units (bytes or items) in the open batch. */
  readonly length: number;
  /** Units a chunk adds: its bytes, or 1 item. */
  unitsOf(chunk: unknown): number;
  /** Appends a chunk that the core has checked fits (or that goes alone). */
  add(chunk: unknown): void;
  /** Hands the open batch out and starts a new one; never called when empty. */
  take(): B;
}

/** Smallest storage a byte batch starts with: small batches share Node's pool. */
const MIN_BYTE_CAPACITY = 256;

/** True for the spellings of UTF-8 Node accepts ('utf8', 'utf-8', any case). */
function isUtf8(encoding: string): boolean {
  return encoding === 'utf8' || encoding === 'utf-8' || /^utf-?8$/i.test(encoding);
}

/**
 * True for the encodings whose `Buffer.byteLength` is exact: the bytes
 * `Buffer.from` makes. For hex, base64 and base64url it is only an upper
 * bound (invalid digits, whitespace and padding are dropped when decoding),
 * so their strings take Node's path, which decodes before it counts.
 */
export function hasExactByteLength(encoding: string): boolean {
  return isUtf8(encoding) || /^(ucs-?2|utf-?16le|latin1|binary|ascii)$/i.test(encoding);
}

/**
 * Bytes are copied into one contiguous Buffer per batch: the writer may reuse
 * its chunk as soon as the write callback fired (docs/semantics.md 6), and the batch is
 * handed over without another copy.
 * @internal
 */
export class ByteAccumulator implements Accumulator<Buffer> {
  /** Storage of the open batch, bytes [0, #length) used; null until the batch's first byte. */
  #storage: Buffer | null = null;
  /** Bytes in the open batch. */
  #length = 0;
  /**
   * Capacity a new batch starts with: the longer of the last two batches'
   * lengths rounded up, so a steady load allocates once per batch and a light
   * load soon allocates little.
   */
  #capacityHint = MIN_BYTE_CAPACITY;
  /** Length of the batch taken before the last one, for `#capacityHint`. */
  #lastLength = 0;
  /** The batch size bound; storage never grows past it unless one chunk is larger. */
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  get length(): number {
    return this.#length;
  }

  unitsOf(chunk: unknown): number {
    return (chunk as Buffer).length;
  }

  add(chunk: unknown): void {
    const bytes = chunk as Uint8Array;
    this.#room(bytes.length).set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /**
   * The fast path's append: copies `chunk` if it goes into the open batch's
   * storage as it is (not a batch's first bytes, no growth, and the batch
   * stays below `size`: a full batch must be handed over at once, which the
   * core arranges on its other path); false leaves it to `add`, through the
   * core's bounds. An empty chunk goes that way too: it may be a view of a
   * transferred ArrayBuffer, which `set()` refuses and Node's write() may not.
   */
  append(chunk: Uint8Array): boolean {
    const storage = this.#storage;
    const length = this.#length;
    const end = length + chunk.length;
    if (length === 0 || end === length || storage === null || end > storage.length || end >= this.#size) {
      return false;
    }
    storage.set(chunk, length);
    this.#length = end;
    return true;
  }

  /** Appends a string's `bytes` bytes, encoded in place (no Buffer per write). */
  addString(text: string, encoding: BufferEncoding, bytes: number): void {
    // ASCII text (one UTF-8 byte per character) is the same bytes in latin1,
    // which Node copies without encoding (callgrind, 60-character strings:
    // 2207 -> 1768 instructions a write).
    if (bytes === text.length && isUtf8(encoding)) encoding = 'latin1';
    this.#room(bytes).write(text, this.#length, bytes, encoding);
    this.#length += bytes;
  }

  take(): Buffer {
    const storage = this.#storage as Buffer;
    const length = this.#length;
    this.#storage = null;
    this.#length = 0;
    // The longer of the last two batches: batches taken whenever the consumer
    // is free alternate long and short under load (a full one shelved, then
    // the rest), and a hint from the short one alone made every other batch
    // grow, copying half of it (async writers, 64 B: one 32 KiB copy every
    // second batch before).
    this.#capacityHint = Math.min(
      this.#size,
      Math.max(MIN_BYTE_CAPACITY, nextPowerOfTwo(Math.max(length, this.#lastLength))),
    );
    this.#lastLength = length;
    return length === storage.length ? storage : storage.subarray(0, length);
  }

  /** Storage with room for `extra` more bytes. */
  #room(extra: number): Buffer {
    const storage = this.#storage;
    return storage !== null && storage.length - this.#length >= extra ? storage : this.#grow(extra);
  }

  /** Moves the open batch to storage that holds `extra` more bytes. */
  #grow(extra: number): Buffer {
    const needed = this.#length + extra;
    const old = this.#storage;
    let capacity = Math.max(needed, this.#capacityHint, old === null ? 0 : old.length * 2);
    // A lone chunk of `size` or more is the only thing that exceeds `size`.
    if (needed <= this.#size) capacity = Math.min(capacity, this.#size);
    const storage = Buffer.allocUnsafe(capacity);
    if (old !== null) old.copy(storage, 0, 0, this.#length);
    this.#storage = storage;
    return storage;
  }
}

/**
 * Items go into a fresh array per batch, which the consumer then owns. The
 * array is preallocated to the last batch's length, so a steady load never
 * regrows it item by item (bench: object-mode AsyncBatchStream 13.9 -> 19.9 M
 * items/s); the consumer gets it trimmed to the items written.
 * @internal
 */
export class ItemAccumulator<T> implements Accumulator<T[]> {
  /** Items of the open batch: slots [0, #length) hold them, in write order. */
  #items: T[];
  /** Items in the open batch. */
  #length = 0;
  /** Slots a new batch starts with: the last batch's length (at least 16). */
  #capacityHint = 16;

  constructor() {
    this.#items = new Array<T>(this.#capacityHint);
  }

  get length(): number {
    return this.#length;
  }

  unitsOf(): number {
    return 1;
  }

  add(item: unknown): void {
    this.#items[this.#length++] = item as T;
  }

  take(): T[] {
    const batch = this.#items;
    batch.length = this.#length;
    this.#capacityHint = Math.max(16, this.#length);
    this.#items = new Array<T>(this.#capacityHint);
    this.#length = 0;
    return batch;
  }
}

function nextPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}
