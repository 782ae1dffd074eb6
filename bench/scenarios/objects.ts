/**
 * Objects into arrays of up to BATCH_ITEMS: many producers write small
 * objects; each variant gathers them into arrays for one consumer, which
 * checks every item. No I/O: this measures the batching itself.
 */
import { once } from 'node:events';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import BatchStream from 'batch-stream';
import streamBatch from 'stream-batch';
import through2Batch from 'through2-batch';
import type { ObjectsJob, RunResult } from '../support/jobs';
import { collectGarbage, errorText, failureSignal, loadLib, type Mwsr } from '../support/lib';
import { ItemChecker, type Item } from '../support/messages';
import { AsyncProducers, HeapSampler, Producers } from '../support/producers';
import type { VariantInfo } from './bytes';

/** Most items per batch. */
export const BATCH_ITEMS = 1000;

export const OBJECT_VARIANTS: readonly VariantInfo[] = [
  { id: 'array-loop', label: 'array push loop (limit)', usesLib: false },
  { id: 'transform', label: 'minimal Transform', usesLib: false },
  { id: 'through2-batch', label: 'through2-batch', usesLib: false },
  { id: 'batch-stream', label: 'batch-stream', usesLib: false },
  { id: 'stream-batch', label: 'stream-batch', usesLib: false },
  { id: 'async-batch-stream', label: 'AsyncBatchStream', usesLib: true },
  { id: 'batching-writable', label: 'BatchingWritable (objectMode)', usesLib: true },
];

/** The baseline of the objects ratios. */
export const OBJECTS_BASELINE = 'array-loop';

/** The least a batching Transform can do: push a full array, flush the rest at the end. */
class MinimalBatchTransform extends Transform {
  #batch: unknown[] = [];

  constructor() {
    super({ objectMode: true });
  }

  override _transform(item: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#batch.push(item);
    if (this.#batch.length >= BATCH_ITEMS) {
      this.push(this.#batch);
      this.#batch = [];
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#batch.length > 0) this.push(this.#batch);
    callback();
  }
}

/** Where producers write items: a stream's writable side, and how to end it and know all was checked. */
interface ObjectSink {
  write(item: Item): boolean;
  onDrain(listener: () => void): void;
  /** Ends the writes; resolves once the checker saw every batch. */
  finish(): Promise<void>;
}

type SinkFactory = (
  checker: ItemChecker,
  heap: HeapSampler,
  lib: Mwsr,
  fail: (error: unknown) => void,
) => ObjectSink;

/** The consumer of the Transform variants: checks each batch as it is read. */
function checkingWritable(checker: ItemChecker, heap: HeapSampler): Writable {
  return new Writable({
    objectMode: true,
    write(batch: unknown, _encoding, callback) {
      checker.check(batch);
      if ((checker.batches & 15) === 0) heap.sample();
      callback();
    },
  });
}

/** A Transform piped into the checker. */
function throughTransform(
  transform: Transform,
  checker: ItemChecker,
  heap: HeapSampler,
  fail: (error: unknown) => void,
): ObjectSink {
  const consumer = checkingWritable(checker, heap);
  transform.on('error', fail);
  consumer.on('error', fail);
  transform.pipe(consumer);
  return {
    write: (item) => transform.write(item),
    onDrain: (listener) => void transform.on('drain', listener),
    async finish() {
      transform.end();
      await once(consumer, 'finish');
    },
  };
}

const SINKS: Record<string, SinkFactory> = {
  transform: (checker, heap, _lib, fail) =>
    throughTransform(new MinimalBatchTransform(), checker, heap, fail),
  'through2-batch': (checker, heap, _lib, fail) =>
    throughTransform(through2Batch.obj({ batchSize: BATCH_ITEMS }), checker, heap, fail),
  'batch-stream': (checker, heap, _lib, fail) =>
    throughTransform(new BatchStream({ size: BATCH_ITEMS }), checker, heap, fail),
  'stream-batch': (checker, heap, _lib, fail) =>
    throughTransform(streamBatch({ maxItems: BATCH_ITEMS }), checker, heap, fail),
  'async-batch-stream': (checker, heap, lib, fail) =>
    throughTransform(
      new lib.AsyncBatchStream<Item>({ objectMode: true, size: BATCH_ITEMS }),
      checker,
      heap,
      fail,
    ),
  'batching-writable': (checker, heap, lib, fail) => {
    const stream = new lib.BatchingWritable<Item>({
      objectMode: true,
      size: BATCH_ITEMS,
      onBatch(batch) {
        checker.check(batch);
        if ((checker.batches & 15) === 0) heap.sample();
      },
    });
    stream.on('error', fail);
    return {
      write: (item) => stream.write(item),
      onDrain: (listener) => void stream.on('drain', listener),
      async finish() {
        stream.end();
        await once(stream, 'finish');
      },
    };
  },
};

/**
 * The limit: no stream, no backpressure; producers take turns pushing into
 * an array, handed to the checker when full. Same items, same checks, same
 * budget checks every 1024 items.
 */
function runArrayLoop(job: ObjectsJob, checker: ItemChecker, heap: HeapSampler): Uint32Array {
  const sent = new Uint32Array(job.producers);
  const deadline = performance.now() + job.durationMs;
  let batch: Item[] = [];
  let producer = 0;
  let total = 0;
  for (;;) {
    if ((total & 1023) === 0) {
      heap.sample();
      if (total >= job.maxMessages || performance.now() >= deadline) break;
    }
    if (total >= job.maxMessages) break;
    batch.push({ p: producer, s: sent[producer]++ });
    total++;
    if (batch.length === BATCH_ITEMS) {
      checker.check(batch);
      batch = [];
    }
    if (++producer === job.producers) producer = 0;
  }
  if (batch.length > 0) checker.check(batch);
  return sent;
}

async function runOnce(job: ObjectsJob, lib: Mwsr): Promise<RunResult> {
  const heap = new HeapSampler();
  const checker = new ItemChecker(job.producers, BATCH_ITEMS);
  const failure = failureSignal();
  const result: RunResult = {
    ok: false,
    messages: 0,
    bytes: 0,
    elapsedMs: 0,
    cpuUs: 0,
    socketWrites: 0,
    writeSyscalls: NaN,
    stalls: 0,
    startHeap: heap.sample(),
    peakHeap: 0,
  };
  const startCpu = process.cpuUsage();
  const start = performance.now();
  try {
    let sent: Uint32Array;
    if (job.variant === 'array-loop') {
      sent = runArrayLoop(job, checker, heap);
    } else {
      const sinkFactory = SINKS[job.variant];
      if (sinkFactory === undefined) throw new Error(`unknown objects variant ${job.variant}`);
      const sink = sinkFactory(checker, heap, lib, failure.fail);
      const Shape = job.shape === 'async' ? AsyncProducers : Producers;
      const producers = new Shape(
        {
          write: (producer, seq) => sink.write({ p: producer, s: seq }),
          onDrain: (listener) => sink.onDrain(listener),
        },
        { producers: job.producers, durationMs: job.durationMs, maxMessages: job.maxMessages, heap },
      );
      await Promise.race([producers.run(), failure.promise]);
      await Promise.race([sink.finish(), failure.promise]);
      sent = producers.sent;
      result.stalls = producers.stalls;
    }
    result.elapsedMs = performance.now() - start;
    const cpu = process.cpuUsage(startCpu);
    result.cpuUs = cpu.user + cpu.system;
    result.peakHeap = heap.peak;
    result.messages = checker.items;
    const error = checker.verify(sent);
    result.ok = error === null;
    if (error !== null) result.error = error;
  } catch (error) {
    result.error = errorText(error);
  } finally {
    heap.stop();
  }
  return result;
}

/** Child side: an optional warm-up run, a GC, then the measured run. */
export async function runObjectsJob(job: ObjectsJob): Promise<RunResult> {
  const lib = loadLib(job.libDir);
  if (job.warmupMs > 0) {
    const warmup = await runOnce({ ...job, durationMs: job.warmupMs, maxMessages: Infinity }, lib);
    if (!warmup.ok) return { ...warmup, error: `warm-up: ${warmup.error ?? 'failed'}` };
  }
  collectGarbage();
  return runOnce(job, lib);
}
