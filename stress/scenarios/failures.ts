/**
 * The consumer failing at a random batch: `onBatch` throws, rejects, or
 * rejects with a non-Error (BatchingWritable); the Writable downstream of a
 * pipeline fails its write callback at once, a turn later, or a turn later
 * with a non-Error (AsyncBatchStream). Meanwhile
 * producers write with callbacks, call flush() at random, and a pipeline
 * feeds the stream from an endless source.
 *
 * Checked: the batches handed over, concatenated, are a prefix of the writes
 * (nothing lost before the failing batch, nothing duplicated, nothing
 * reordered), and the consumer is never called after the failing one; the
 * error reaches every flush() waiting, the pipeline and 'error' (the same
 * object); every write callback is called exactly once, with an error if it
 * was still waiting at the failure; flush() after the failure rejects; no
 * unhandled rejection; nothing hangs.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';
import { FACES, MODES, type Batch, type Batcher, type FaceName, type Mode } from '../support/rig';
import {
  MESSAGE_BYTES,
  Report,
  delay,
  describe,
  encodeMessage,
  nextTurn,
  randomSource,
  track,
  withDeadline,
  type Item,
  type Outcome,
  type Random,
  type StressOptions,
} from '../support/common';

const KINDS = ['throw', 'reject', 'non-Error'] as const;
type Kind = (typeof KINDS)[number];

/** Producers writing directly; one more, the last id, feeds the pipeline. */
const PRODUCERS = 8;

interface Totals {
  trials: number;
  batchesBeforeFailure: number;
  writeCallbacks: number;
  callbacksWithError: number;
  /** Write callbacks called without error once destroyed: writes copied into a batch before, reported a tick late. */
  lateSuccessCallbacks: number;
  flushes: number;
  flushesRejected: number;
  writesAfterFailure: number;
}

export async function runFailures(options: StressOptions): Promise<Report> {
  const report = new Report('failures: the consumer fails at a random batch');
  const random = randomSource(options.seed ^ 0xfa11);
  const repetitions = options.quick ? 4 : 60;
  const totals: Totals = {
    trials: 0,
    batchesBeforeFailure: 0,
    writeCallbacks: 0,
    callbacksWithError: 0,
    lateSuccessCallbacks: 0,
    flushes: 0,
    flushesRejected: 0,
    writesAfterFailure: 0,
  };
  for (let r = 0; r < repetitions; r++) {
    for (const face of FACES) {
      for (const mode of MODES) {
        for (const kind of KINDS) {
          const label = `${face} ${mode} ${kind} #${r}`;
          await withDeadline(trial(face, mode, kind, random, report, label, totals), 20_000, label).catch(
            (error: Error) => report.fail(error.message),
          );
        }
      }
    }
  }
  report.figure('trials', totals.trials);
  report.figure('batches delivered before the failing one', totals.batchesBeforeFailure);
  report.figure(
    'write callbacks',
    `${totals.writeCallbacks.toLocaleString('en-US')}, ${totals.callbacksWithError.toLocaleString('en-US')} with the error; ` +
      `${totals.lateSuccessCallbacks} succeeded after the stream was destroyed (writes copied into the open batch ` +
      `before it, whose callback Node defers a tick); ${totals.writesAfterFailure.toLocaleString('en-US')} writes made after it`,
  );
  report.figure('flush() calls', `${totals.flushes}, ${totals.flushesRejected} rejected`);
  return report;
}

/** A message's identity in the write log: producer and sequence number in one integer. */
function idOf(p: number, s: number): number {
  return p * 1_000_000 + s;
}

function idsOf(chunk: unknown): number[] {
  if (Buffer.isBuffer(chunk)) {
    const ids: number[] = [];
    for (let at = 0; at + MESSAGE_BYTES <= chunk.length; at += MESSAGE_BYTES) {
      ids.push(idOf(chunk.readUInt32LE(at), chunk.readUInt32LE(at + 4)));
    }
    return ids;
  }
  if (Array.isArray(chunk)) return (chunk as Item[]).map((item) => idOf(item.p, item.s));
  const item = chunk as Partial<Item> | null;
  // writeV's group marker (object mode) is not a message.
  return item !== null && typeof item === 'object' && typeof item.p === 'number'
    ? [idOf(item.p, item.s as number)]
    : [];
}

async function trial(
  face: FaceName,
  mode: Mode,
  kind: Kind,
  random: Random,
  report: Report,
  label: string,
  totals: Totals,
): Promise<void> {
  totals.trials++;
  const unit = mode === 'bytes' ? MESSAGE_BYTES : 1;
  const size = random.int(1, 40) * unit;
  const maxDelay = random.pick([0, 0, 1, 3]);
  const failAt = random.int(0, 12);
  const failure: unknown =
    kind === 'non-Error' ? { notAnError: label } : new Error(`fail at batch ${failAt}`);
  const message = (p: number, s: number): Buffer | Item =>
    mode === 'bytes' ? encodeMessage(p, s) : { p, s };

  /** Every message, in the order the stream's write() was called. */
  const log: number[] = [];
  /** Every batch the consumer received, the failing one last. */
  const received: number[][] = [];
  /** AsyncBatchStream: every batch pushed to the readable side. */
  const pushed: number[][] = [];
  let failed = false;
  let callsAfterFailure = 0;
  let pushesAfterDestroy = 0;

  const consume = (batch: Batch): void | Promise<void> => {
    if (failed) {
      callsAfterFailure++;
      return;
    }
    received.push(idsOf(batch));
    if (received.length - 1 < failAt) return random.chance(0.5) ? nextTurn() : undefined;
    failed = true;
    if (kind === 'throw') throw failure;
    return Promise.reject(failure);
  };

  let stream: Batcher;
  let piped: Promise<void>;
  const source = Readable.from(
    (function* () {
      for (let s = 0; ; s++) yield message(PRODUCERS, s);
    })(),
  );
  if (face === 'BatchingWritable') {
    const onBatch = (batch: Batch): void | Promise<void> => consume(batch);
    stream =
      mode === 'bytes'
        ? new BatchingWritable({ size, maxDelay, onBatch })
        : new BatchingWritable<Item>({ size, maxDelay, objectMode: true, onBatch });
    piped = pipeline(source, stream as Writable);
  } else {
    const t: AsyncBatchStream<unknown> =
      mode === 'objects'
        ? new AsyncBatchStream({ size, maxDelay, objectMode: true })
        : new AsyncBatchStream({ size, maxDelay });
    // What the stream hands over is what it pushes; the consumer reads later.
    const push = t.push.bind(t);
    t.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (t.destroyed) pushesAfterDestroy++;
      if (chunk !== null) pushed.push(idsOf(chunk));
      return push(chunk, encoding);
    };
    stream = t;
    // Downstream is a Writable failing its write callback: synchronously
    // ('throw'), a turn later ('reject'), or a turn later with a non-Error.
    // (An async function failing as pipeline()'s last stage would not do:
    // Node then rejects with an AbortError from the source's iterator.)
    const sink = new Writable({
      objectMode: true,
      write(batch: Batch, _encoding, done) {
        let result: void | Promise<void>;
        try {
          result = consume(batch);
        } catch (error) {
          done(error as Error);
          return;
        }
        if (result)
          result.then(
            () => done(),
            (error: Error) => setImmediate(done, error),
          );
        else done();
      },
    });
    piped = pipeline(source, t, sink);
  }
  const pipelineOutcome = track(piped);
  const errors: unknown[] = [];
  stream.on('error', (error) => errors.push(error));

  // Log every write in call order: direct writes, writeV's chunks and pipe's.
  // writeV() takes its group in directly or through write(): log it once, at
  // the call (and not at all if it throws).
  let inGroup = false;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  (stream as { write: unknown }).write = (...args: unknown[]): boolean => {
    if (!inGroup) for (const id of idsOf(args[0])) log.push(id);
    return write(...args);
  };
  const writeV = stream.writeV.bind(stream) as (chunks: unknown[], ...rest: unknown[]) => boolean;
  (stream as { writeV: unknown }).writeV = (chunks: unknown[], ...rest: unknown[]): boolean => {
    const logged = log.length;
    for (const chunk of chunks) for (const id of idsOf(chunk)) log.push(id);
    inGroup = true;
    try {
      return writeV(chunks, ...rest);
    } catch (error) {
      log.length = logged;
      throw error;
    } finally {
      inGroup = false;
    }
  };

  const callbacks: { calls: number; error: unknown; afterFailure: boolean; loggedAt: number }[] = [];
  const flushes: { outcome: { outcome: Outcome }; loggedAt: number; afterFailure: boolean }[] = [];
  const callback = (): ((error?: Error | null) => void) => {
    const record = { calls: 0, error: undefined as unknown, afterFailure: false, loggedAt: log.length };
    callbacks.push(record);
    return (error) => {
      record.calls++;
      record.error = error;
      record.afterFailure = stream.destroyed;
    };
  };
  // ready(): one shared drain promise per cycle, as the README recommends.
  const drain = (): Promise<void> => stream.ready();
  let writesAfterFailure = 0;
  const producer = async (p: number): Promise<void> => {
    for (let s = 0; s < 400 && !stream.destroyed;) {
      if (failed) writesAfterFailure++;
      let ok: boolean;
      if (random.chance(0.2)) {
        const count = random.int(1, 5);
        const chunks = [];
        for (let i = 0; i < count; i++) chunks.push(message(p, s++));
        ok = stream.writeV(chunks, callback());
      } else {
        const chunk = message(p, s++);
        ok = stream.write(chunk, callback());
      }
      if (random.chance(0.05)) {
        flushes.push({ outcome: track(stream.flush()), loggedAt: log.length, afterFailure: failed });
      }
      if (!ok) await drain().catch(() => {});
      else if (random.chance(0.3)) await (random.chance(0.5) ? nextTurn() : delay(0));
    }
  };
  const producers: Promise<void>[] = [];
  for (let p = 0; p < PRODUCERS; p++) producers.push(producer(p));
  await Promise.all(producers);
  await piped.catch(() => {});
  // One flush() after the failure, and a few turns for Node's deferred callbacks.
  const late = track(stream.flush());
  for (let i = 0; i < 3; i++) await nextTurn();

  const fail = (what: string): void => report.fail(`${label}: ${what}`);
  if (!failed) return fail(`the consumer never reached batch ${failAt}`);
  // AsyncBatchStream is destroyed by pipeline() with downstream's value as is.
  const theError = face === 'BatchingWritable' ? stream.errored : failure;
  if (face === 'BatchingWritable') {
    if (kind === 'non-Error') {
      if (!(theError instanceof Error) || (theError as { cause?: unknown }).cause !== failure) {
        fail(`a non-Error was not wrapped with it as cause: ${describe(theError)}`);
      }
    } else if (theError !== failure) {
      fail(`the stream was destroyed with ${describe(theError)}, not the consumer's error`);
    }
  }
  // docs/semantics.md 10: onBatch is never called again. (A Writable downstream failing
  // its callback synchronously may still be handed what Node buffered for it:
  // Node's clearBuffer loop goes on; that is Node's, not ours.)
  if (face === 'BatchingWritable' && callsAfterFailure > 0) {
    fail(`onBatch was called ${callsAfterFailure} times after it failed`);
  }
  if (pushesAfterDestroy > 0) fail(`${pushesAfterDestroy} batches pushed after the stream was destroyed`);
  if (received.length !== failAt + 1) fail(`${received.length} batches handed over, expected ${failAt + 1}`);
  totals.batchesBeforeFailure += received.length - 1;

  // Delivered, concatenated, is a prefix of the write log.
  const delivered = received.flat();
  let mismatch = -1;
  for (let i = 0; i < delivered.length; i++) {
    if (delivered[i] !== log[i]) {
      mismatch = i;
      break;
    }
  }
  if (mismatch >= 0) {
    fail(
      `delivered message ${mismatch} is ${delivered[mismatch]}, the write log has ${log[mismatch]}: lost, duplicated or reordered`,
    );
  }
  for (const ids of received) {
    if (ids.length === 0 || ids.length * unit > size)
      fail(`a batch of ${ids.length * unit} units (size ${size})`);
  }
  // Units through to the consumer before the failure: what a resolved flush()
  // may have waited for. AsyncBatchStream's flush() waits only for the push.
  let deliveredBefore = delivered.length - received[received.length - 1].length;
  if (face === 'AsyncBatchStream') {
    const all = pushed.flat();
    deliveredBefore = all.length;
    for (let i = 0; i < all.length; i++) {
      if (all[i] !== log[i]) {
        fail(`pushed message ${i} is ${all[i]}, the write log has ${log[i]}: lost, duplicated or reordered`);
        break;
      }
    }
    for (const ids of pushed) {
      if (ids.length === 0 || ids.length * unit > size)
        fail(`a batch of ${ids.length * unit} units (size ${size})`);
    }
  }

  // The error reaches the pipeline, 'error' and every waiting flush().
  const piping = pipelineOutcome.outcome;
  if (piping.state !== 'rejected') fail(`pipeline() ${piping.state}, expected a rejection`);
  else if (piping.error !== theError)
    fail(`pipeline() rejected with ${describe(piping.error)}, not the error`);
  if (!errors.includes(theError)) fail(`'error' was ${errors.map(describe).join(', ') || 'not emitted'}`);
  for (const flush of flushes) {
    totals.flushes++;
    const outcome = flush.outcome.outcome;
    if (outcome.state === 'pending') fail('a flush() never settled');
    else if (outcome.state === 'resolved') {
      if (flush.loggedAt > deliveredBefore) {
        fail(
          `a flush() resolved though ${flush.loggedAt - deliveredBefore} messages written before it never got through`,
        );
      }
    } else {
      totals.flushesRejected++;
      const code = (outcome.error as { code?: unknown } | null)?.code;
      if (outcome.error !== theError && !(flush.afterFailure && code === 'ERR_STREAM_DESTROYED')) {
        fail(`a flush() rejected with ${describe(outcome.error)}, not the error`);
      }
    }
  }
  if (late.outcome.state !== 'rejected') fail(`flush() after the failure ${late.outcome.state}`);

  // Every write callback exactly once; those still waiting at the failure got an error.
  for (const record of callbacks) {
    totals.writeCallbacks++;
    if (record.calls !== 1) {
      fail(`a write callback was called ${record.calls} times`);
      continue;
    }
    if (record.error) {
      totals.callbacksWithError++;
      const code = (record.error as { code?: unknown }).code;
      if (record.error !== theError && code !== 'ERR_STREAM_DESTROYED') {
        fail(`a write callback got ${describe(record.error)}`);
      }
    } else if (record.afterFailure) {
      totals.lateSuccessCallbacks++;
    }
  }
  totals.writesAfterFailure += writesAfterFailure;
  if (!stream.destroyed) fail('the stream is not destroyed');
}
