/**
 * The floor for a stream: the bench's hand-rolled 64 KiB coalescing loop,
 * moved inside a `Writable` subclass with the same `onBatch` as mwsr's
 * `BatchingWritable`, and nothing else (no bounds checks, groups, flush,
 * errors or maxDelay). Not a library: a `--try-lib` copy that shows what
 * being a stream costs by itself, so the bench can tell that cost from
 * mwsr's own:
 *
 *   npm run bench -- --only=bytes --sizes=64 --producers=256 \
 *     --variants=hand-rolled,batching-writable --try-lib=bench/floor
 *
 * Byte mode, 64 KiB batches, no callbacks: only what that bench needs.
 */
import { Writable } from 'node:stream';

const BATCH_BYTES = 64 * 1024;

export class BatchingWritable extends Writable {
  /** The open batch, bytes [0, #used) filled. */
  #current = Buffer.allocUnsafe(BATCH_BYTES);
  #used = 0;
  /** Full batches waiting for the consumer, oldest first. */
  #full: Buffer[] = [];
  /** True while onBatch has not settled. */
  #inFlight = false;
  /** True while a nextTick hand-over is queued. */
  #scheduled = false;
  /** A write returned false: a 'drain' is owed. */
  #needDrain = false;
  #ending = false;
  readonly #onBatch: (batch: Buffer) => Promise<unknown>;

  readonly #sendNext = (): void => {
    this.#scheduled = false;
    if (this.#inFlight) return;
    let batch: Buffer;
    if (this.#full.length > 0) {
      batch = this.#full.shift() as Buffer;
    } else if (this.#used > 0) {
      batch = this.#current.subarray(0, this.#used);
      this.#current = Buffer.allocUnsafe(BATCH_BYTES);
      this.#used = 0;
    } else {
      if (this.#ending) this.emit('finish');
      return;
    }
    this.#inFlight = true;
    this.#onBatch(batch).then(this.#onSettled, (error: unknown) => this.destroy(error as Error));
  };

  readonly #onSettled = (): void => {
    this.#inFlight = false;
    this.#sendNext();
    if (this.#needDrain && this.#full.length === 0) {
      this.#needDrain = false;
      process.nextTick(() => this.emit('drain'));
    }
  };

  constructor(options: { onBatch: (batch: Buffer) => Promise<unknown> }) {
    super();
    this.#onBatch = options.onBatch;
  }

  override write(chunk: Buffer): boolean {
    if (this.#used + chunk.length > BATCH_BYTES) {
      this.#full.push(this.#current.subarray(0, this.#used));
      this.#current = Buffer.allocUnsafe(BATCH_BYTES);
      this.#used = 0;
    }
    this.#current.set(chunk, this.#used);
    this.#used += chunk.length;
    if (!this.#inFlight && !this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#sendNext);
    }
    if (this.#full.length === 0) return true;
    this.#needDrain = true;
    return false;
  }

  override end(): this {
    this.#ending = true;
    if (!this.#inFlight && !this.#scheduled) this.#sendNext();
    return this;
  }
}
