import type { Writable } from 'node:stream';
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';
import { deferred, type Deferred } from './helpers';

export type Mode = 'bytes' | 'objects';
export const MODES: readonly Mode[] = ['bytes', 'objects'];

/** The public surface both faces share. */
export type Batcher = Writable & {
  writeV(chunks: readonly unknown[], callback?: (error?: Error | null) => void): boolean;
  flush(): Promise<void>;
};

export interface HarnessOptions {
  size: number;
  mode: Mode;
  maxDelay?: number;
  highWaterMark?: number;
  /**
   * Object mode only: weigh every item 1 byte against a `maxBytes` that never
   * binds, so the items take the weighing paths (docs/semantics.md 22) and
   * must behave exactly as without them.
   */
  weighed?: boolean;
}

/** `maxBytes` and `sizeOf` of a weighed harness: a limit items never reach. */
function weighing(options: HarnessOptions): { maxBytes?: number; sizeOf?: (item: unknown) => number } {
  return options.weighed ? { maxBytes: Number.MAX_SAFE_INTEGER, sizeOf: () => 1 } : {};
}

/**
 * One batcher plus a consumer the spec controls: while held, the consumer
 * takes no batch (BatchingWritable: onBatch's promise stays pending;
 * AsyncBatchStream: nobody reads), so data piles up as under load.
 */
export interface Harness {
  readonly stream: Batcher;
  readonly mode: Mode;
  /** Batches as the consumer received them, in order. */
  readonly batches: (Buffer | unknown[])[];
  /** Times the consumer was entered while a previous batch was still out (semantics 4). */
  readonly reentries: number;
  /** A chunk for `text`: its bytes, or `text` as one item. */
  chunk(text: string): Buffer | string;
  /** Everything received, as one string: bytes as latin1, items joined. */
  text(): string;
  /** Units (bytes or items) per batch received. */
  sizes(): number[];
  hold(): void;
  release(): void;
  /** Resolves with the next batch the consumer receives. */
  nextBatch(): Promise<Buffer | unknown[]>;
}

export type HarnessFactory = (options: HarnessOptions) => Harness;

abstract class BaseHarness implements Harness {
  abstract readonly stream: Batcher;
  readonly batches: (Buffer | unknown[])[] = [];
  reentries = 0;
  protected held = false;
  #waiters: Deferred<Buffer | unknown[]>[] = [];

  constructor(readonly mode: Mode) {}

  chunk(text: string): Buffer | string {
    return this.mode === 'bytes' ? Buffer.from(text, 'latin1') : text;
  }

  text(): string {
    return this.batches
      .map((batch) => (Buffer.isBuffer(batch) ? batch.toString('latin1') : batch.join('')))
      .join('');
  }

  sizes(): number[] {
    return this.batches.map((batch) => batch.length);
  }

  hold(): void {
    this.held = true;
  }

  abstract release(): void;

  nextBatch(): Promise<Buffer | unknown[]> {
    const waiter = deferred<Buffer | unknown[]>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  protected received(batch: Buffer | unknown[]): void {
    this.batches.push(batch);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve(batch);
  }
}

class WritableHarness extends BaseHarness {
  readonly stream: BatchingWritable<unknown>;
  #active = false;
  #gates: Deferred[] = [];

  constructor(options: HarnessOptions) {
    super(options.mode);
    const onBatch = (batch: Buffer | unknown[]): void | Promise<void> => {
      if (this.#active) this.reentries++;
      this.#active = true;
      this.received(batch);
      if (!this.held) {
        this.#active = false;
        return;
      }
      const gate = deferred();
      this.#gates.push(gate);
      return gate.promise.then(() => {
        this.#active = false;
      });
    };
    const common = { size: options.size, maxDelay: options.maxDelay, highWaterMark: options.highWaterMark };
    this.stream =
      options.mode === 'bytes'
        ? new BatchingWritable({ ...common, onBatch })
        : new BatchingWritable<unknown>({ ...common, ...weighing(options), objectMode: true, onBatch });
  }

  release(): void {
    this.held = false;
    const gates = this.#gates;
    this.#gates = [];
    for (const gate of gates) gate.resolve();
  }
}

/**
 * For AsyncBatchStream a batch is "received" when it is pushed, and the
 * consumer is busy while nobody reads: the readable side then holds
 * `readableHighWaterMark` (1) batches, so the core waits as for a pending
 * onBatch.
 */
class TransformHarness extends BaseHarness {
  readonly stream: AsyncBatchStream<unknown>;

  constructor(options: HarnessOptions) {
    super(options.mode);
    const received = (batch: Buffer | unknown[]): void => this.received(batch);
    this.stream = new (class extends AsyncBatchStream<unknown> {
      override push(chunk: unknown, encoding?: BufferEncoding): boolean {
        if (chunk !== null) received(chunk as Buffer | unknown[]);
        return super.push(chunk, encoding);
      }
    })({
      ...weighing(options),
      size: options.size,
      maxDelay: options.maxDelay,
      highWaterMark: options.highWaterMark,
      // One subclass serves both modes: its item type, unknown, takes bytes too.
      objectMode: (options.mode === 'objects') as true,
    });
    this.stream.on('readable', () => this.#drain());
  }

  /**
   * Reads the batch that is out (as settling onBatch would), which lets the
   * core push the next one; later batches are read on 'readable' unless the
   * consumer is held again by then.
   */
  release(): void {
    this.held = false;
    this.stream.read();
  }

  #drain(): void {
    while (!this.held && this.stream.read() !== null);
  }
}

export const harnessFor = {
  BatchingWritable: (options: HarnessOptions): Harness => new WritableHarness(options),
  AsyncBatchStream: (options: HarnessOptions): Harness => new TransformHarness(options),
} satisfies Record<string, HarnessFactory>;
