import { getHeapStatistics } from 'node:v8';
import type { Budget } from './jobs';

/** Messages between two looks at the clock, the count limit and the heap. */
const CHECK_EVERY = 1024;

/**
 * The highest heapUsed seen. Sampled by the producers every CHECK_EVERY
 * messages, by consumers when they like, and by a timer, so a run that never
 * yields to the event loop is still sampled.
 */
export class HeapSampler {
  peak = 0;
  /** Highest heapUsed since the last `takeWindowPeak()`. */
  #windowPeak = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 10) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): number {
    const used = getHeapStatistics().used_heap_size;
    if (used > this.peak) this.peak = used;
    if (used > this.#windowPeak) this.#windowPeak = used;
    return used;
  }

  /** The highest heapUsed since the previous call, and starts a new window. */
  takeWindowPeak(): number {
    const peak = this.#windowPeak;
    this.#windowPeak = 0;
    return peak;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Where producers write: a stream, or anything with the same backpressure contract. */
export interface ProducerTarget {
  /** Writes message `seq` of `producer`; false means: wait for the next drain. */
  write(producer: number, seq: number): boolean;
  /** Registers the one listener called at every drain. */
  onDrain(listener: () => void): void;
}

export interface ProducerOptions extends Budget {
  producers: number;
  heap: HeapSampler;
  /** Total counts at which `onCheckpoint` is called (ascending). */
  checkpoints?: readonly number[];
  onCheckpoint?(total: number): void;
}

/**
 * `producers` concurrent writers sharing one target. Each writes its own
 * numbered messages until the budget is spent, and stops at the first write
 * that returns false until the target drains: every producer respects
 * backpressure. Producers are plain callbacks, not async functions, so the
 * harness costs little next to what is measured, and costs the same for
 * every variant.
 */
export class Producers {
  /** Next sequence number of each producer, which is also its count of messages written. */
  readonly sent: Uint32Array;
  /** Messages written by all producers. */
  total = 0;
  /** Writes that returned false (each one a wait for a whole drain). */
  stalls = 0;

  readonly #target: ProducerTarget;
  readonly #options: ProducerOptions;
  readonly #deadline: number;
  /** `total` at which the budget, heap and checkpoints are looked at next. */
  #nextCheck = 0;
  #checkpointIndex = 0;
  #stopped = false;
  /** Producers that saw `false`, in the order they will resume. */
  #waiting: number[] = [];
  /** Producers not yet done. */
  #live: number;
  #resolveDone: () => void = () => {};

  constructor(target: ProducerTarget, options: ProducerOptions) {
    this.#target = target;
    this.#options = options;
    this.sent = new Uint32Array(options.producers);
    this.#live = options.producers;
    this.#deadline = performance.now() + options.durationMs;
    target.onDrain(() => this.#onDrain());
  }

  /** Starts every producer; resolves once all have stopped writing. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.#resolveDone = resolve;
    });
    this.#nextCheck = 0;
    for (let producer = 0; producer < this.#options.producers; producer++) this.#resume(producer);
    return done;
  }

  #resume(producer: number): void {
    const target = this.#target;
    const sent = this.sent;
    for (;;) {
      if (this.total >= this.#nextCheck && this.#checkBudget()) {
        if (--this.#live === 0) this.#resolveDone();
        return;
      }
      const seq = sent[producer]++;
      this.total++;
      if (!target.write(producer, seq)) {
        this.stalls++;
        this.#waiting.push(producer);
        return;
      }
    }
  }

  #onDrain(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const producer of waiting) this.#resume(producer);
  }

  /** The slow path, every CHECK_EVERY messages: true once the budget is spent. */
  #checkBudget(): boolean {
    if (this.#stopped) return true;
    const options = this.#options;
    options.heap.sample();
    const checkpoints = options.checkpoints ?? [];
    while (this.#checkpointIndex < checkpoints.length && this.total >= checkpoints[this.#checkpointIndex]) {
      options.onCheckpoint?.(checkpoints[this.#checkpointIndex++]);
    }
    if (this.total >= options.maxMessages || performance.now() >= this.#deadline) {
      this.#stopped = true;
      return true;
    }
    let next = Math.min(this.total + CHECK_EVERY, options.maxMessages);
    if (this.#checkpointIndex < checkpoints.length) next = Math.min(next, checkpoints[this.#checkpointIndex]);
    this.#nextCheck = next;
    return false;
  }
}

/** What a producer awaits when its write was accepted: one microtask turn. */
const SETTLED = Promise.resolve();

/**
 * The other producer shape: `producers` async functions, each awaiting once
 * per message as a request handler does (`await` the drain when `write()`
 * returned false, else an already-settled value), so every message costs a
 * microtask turn and producers interleave message by message. Same target,
 * budget and backpressure contract as `Producers`.
 */
export class AsyncProducers {
  readonly sent: Uint32Array;
  total = 0;
  /** Writes that returned false (each one a wait for a whole drain). */
  stalls = 0;

  readonly #target: ProducerTarget;
  readonly #options: ProducerOptions;
  readonly #deadline: number;
  #nextCheck = 0;
  #stopped = false;
  /** Settles at the next drain; made when a producer first needs it. */
  #drained: Promise<void> | null = null;
  #resolveDrained: () => void = () => {};

  constructor(target: ProducerTarget, options: ProducerOptions) {
    this.#target = target;
    this.#options = options;
    this.sent = new Uint32Array(options.producers);
    this.#deadline = performance.now() + options.durationMs;
    target.onDrain(() => {
      const resolve = this.#resolveDrained;
      this.#drained = null;
      resolve();
    });
  }

  /** Starts every producer; resolves once all have stopped writing. */
  async run(): Promise<void> {
    const running: Promise<void>[] = [];
    for (let producer = 0; producer < this.#options.producers; producer++) {
      running.push(this.#produce(producer));
    }
    await Promise.all(running);
  }

  #nextDrain(): Promise<void> {
    this.#drained ??= new Promise((resolve) => {
      this.#resolveDrained = resolve;
    });
    return this.#drained;
  }

  async #produce(producer: number): Promise<void> {
    const target = this.#target;
    const sent = this.sent;
    for (;;) {
      if (this.total >= this.#nextCheck && this.#checkBudget()) return;
      const seq = sent[producer]++;
      this.total++;
      if (target.write(producer, seq)) {
        await SETTLED;
      } else {
        this.stalls++;
        await this.#nextDrain();
      }
    }
  }

  #checkBudget(): boolean {
    if (this.#stopped) return true;
    const options = this.#options;
    options.heap.sample();
    if (this.total >= options.maxMessages || performance.now() >= this.#deadline) {
      this.#stopped = true;
      return true;
    }
    this.#nextCheck = Math.min(this.total + CHECK_EVERY, options.maxMessages);
    return false;
  }
}
