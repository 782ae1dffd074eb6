/**
 * end() racing flush(), write() and writeV(): random scripts of those calls,
 * separated by nothing, a microtask, a tick or a turn. Checked:
 *
 * - everything written before end() is handed over exactly once, in order,
 *   and 'finish' comes after the last batch settled, unless a write after
 *   end() destroyed the stream (Node's rule: ERR_STREAM_WRITE_AFTER_END
 *   destroys it), in which case what was handed over is still a prefix of it;
 * - a write or writeV() after end() fails with ERR_STREAM_WRITE_AFTER_END;
 * - a flush() that resolves has all data written before it through, and
 *   every flush() settles; every callback is called exactly once;
 * - nothing hangs.
 */
import { Writable } from 'node:stream';
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';
import { FACES, MODES, type Batch, type Batcher, type FaceName, type Mode } from '../support/rig';
import {
  MESSAGE_BYTES,
  Report,
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

type Op = 'write' | 'writeV' | 'flush' | 'end' | 'end(chunk)';
const PAUSES = ['none', 'microtask', 'tick', 'turn'] as const;

interface Totals {
  trials: number;
  finished: number;
  destroyedByWriteAfterEnd: number;
  writesAfterEnd: number;
  flushes: number;
  flushesRejected: number;
}

export async function runRaces(options: StressOptions): Promise<Report> {
  const report = new Report('races: end() against flush(), write() and writeV()');
  const random = randomSource(options.seed ^ 0x5ace);
  const trials = options.quick ? 400 : 8000;
  const totals: Totals = {
    trials: 0,
    finished: 0,
    destroyedByWriteAfterEnd: 0,
    writesAfterEnd: 0,
    flushes: 0,
    flushesRejected: 0,
  };
  for (let i = 0; i < trials; i++) {
    const face = random.pick(FACES);
    const mode = random.pick(MODES);
    const label = `${face} ${mode} #${i}`;
    await withDeadline(trial(face, mode, random, report, label, totals), 10_000, label).catch(
      (error: Error) => report.fail(error.message),
    );
  }
  report.figure('trials', totals.trials);
  report.figure(
    'outcomes',
    `${totals.finished} finished with everything delivered; ${totals.destroyedByWriteAfterEnd} destroyed by one of ` +
      `${totals.writesAfterEnd} writes after end() (pending data discarded, as a plain Writable does)`,
  );
  report.figure('flush() calls', `${totals.flushes}, ${totals.flushesRejected} rejected`);
  return report;
}

function script(random: Random): Op[] {
  const ops: Op[] = [];
  const length = random.int(2, 16);
  for (let i = 0; i < length; i++) ops.push(random.pick(['write', 'write', 'writeV', 'flush'] as const));
  // One end(), sometimes two; writes after it are rarer than before.
  ops.splice(random.int(0, ops.length), 0, random.chance(0.8) ? 'end' : 'end(chunk)');
  if (random.chance(0.2)) ops.splice(random.int(0, ops.length), 0, 'end');
  const firstEnd = ops.findIndex((op) => op.startsWith('end'));
  return ops.filter((op, i) => i <= firstEnd || op.startsWith('end') || op === 'flush' || random.chance(0.3));
}

async function pause(kind: (typeof PAUSES)[number]): Promise<void> {
  if (kind === 'microtask') await Promise.resolve();
  else if (kind === 'tick') await new Promise((resolve) => process.nextTick(resolve));
  else if (kind === 'turn') await nextTurn();
}

async function trial(
  face: FaceName,
  mode: Mode,
  random: Random,
  report: Report,
  label: string,
  totals: Totals,
): Promise<void> {
  totals.trials++;
  const unit = mode === 'bytes' ? MESSAGE_BYTES : 1;
  const size = random.int(1, 8) * unit;
  const maxDelay = random.pick([0, 0, 2, Infinity]);
  /** Units handed over (settled by onBatch, or pushed), in order. */
  const delivered: number[] = [];
  let batchesOut = 0;
  let batchesSettled = 0;
  const idOf = (batch: Batch): number[] =>
    Buffer.isBuffer(batch)
      ? Array.from({ length: batch.length / MESSAGE_BYTES }, (_, i) =>
          batch.readUInt32LE(i * MESSAGE_BYTES + 4),
        )
      : batch.map((item) => item.s);
  const latency = (): void | Promise<void> => (random.chance(0.5) ? nextTurn() : undefined);
  let stream: Batcher;
  if (face === 'BatchingWritable') {
    const onBatch = async (batch: Batch): Promise<void> => {
      batchesOut++;
      await latency();
      delivered.push(...idOf(batch));
      batchesSettled++;
    };
    stream =
      mode === 'bytes'
        ? new BatchingWritable({ size, maxDelay, onBatch })
        : new BatchingWritable<Item>({ size, maxDelay, objectMode: true, onBatch });
  } else {
    const t: AsyncBatchStream<unknown> =
      mode === 'objects'
        ? new AsyncBatchStream({ size, maxDelay, objectMode: true })
        : new AsyncBatchStream({ size, maxDelay });
    const push = t.push.bind(t);
    t.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk !== null) {
        batchesOut++;
        batchesSettled++;
        delivered.push(...idOf(chunk as Batch));
      }
      return push(chunk, encoding);
    };
    t.pipe(
      new Writable({
        objectMode: true,
        write: (_batch, _encoding, done) => {
          const wait = latency();
          if (wait) void wait.then(() => done());
          else done();
        },
      }),
    );
    stream = t;
  }
  const errors: unknown[] = [];
  stream.on('error', (error) => errors.push(error));
  let finishedAt = -1;
  stream.on('finish', () => {
    finishedAt = batchesSettled;
    if (batchesOut !== batchesSettled) report.fail(`${label}: 'finish' while a batch was still out`);
  });
  const closed = new Promise((resolve) => stream.once('close', resolve));

  let seq = 0;
  let ended = false;
  /** Sequence numbers written before the first end(), in call order. */
  const beforeEnd: number[] = [];
  const callbacks: { calls: number; error: unknown; afterEnd: boolean }[] = [];
  /** A callback to count; `afterEnd`: a write after end(), which must fail. */
  const callback = (afterEnd: boolean): ((error?: Error | null) => void) => {
    const record = { calls: 0, error: undefined as unknown, afterEnd };
    callbacks.push(record);
    return (error) => {
      record.calls++;
      record.error = error;
    };
  };
  const flushes: {
    outcome: { outcome: Outcome };
    written: number;
    deliveredAtResolve: number;
    beforeFinish: boolean;
  }[] = [];
  // (beforeFinish: called while the stream was neither finished nor destroyed.)
  const message = (): Buffer | Item => {
    const s = seq++;
    if (!ended) beforeEnd.push(s);
    return mode === 'bytes' ? encodeMessage(0, s) : { p: 0, s };
  };
  let writesAfterEnd = 0;
  for (const op of script(random)) {
    switch (op) {
      case 'write':
        if (ended) writesAfterEnd++;
        stream.write(message(), callback(ended));
        break;
      case 'writeV': {
        if (ended) writesAfterEnd++;
        const afterEnd = ended;
        const chunks = Array.from({ length: random.int(0, 4) }, message);
        stream.writeV(chunks, callback(afterEnd));
        break;
      }
      case 'flush': {
        const record = {
          outcome: { outcome: { state: 'pending' } as Outcome },
          written: beforeEnd.length,
          deliveredAtResolve: -1,
          beforeFinish: finishedAt < 0 && !stream.destroyed,
        };
        const promise = stream.flush();
        promise.then(
          () => (record.deliveredAtResolve = delivered.length),
          () => {},
        );
        record.outcome = track(promise);
        flushes.push(record);
        break;
      }
      case 'end':
      case 'end(chunk)': {
        // end(cb) on a destroyed stream never calls cb (Node 20, as a plain Writable).
        const cb = stream.destroyed ? undefined : callback(op === 'end(chunk)' && ended);
        if (op === 'end(chunk)') {
          if (ended) writesAfterEnd++;
          const chunk = message();
          ended = true;
          stream.end(chunk, cb);
        } else {
          ended = true;
          stream.end(cb);
        }
        break;
      }
    }
    await pause(random.pick(PAUSES));
  }
  await closed;
  for (let i = 0; i < 3; i++) await nextTurn();

  const fail = (what: string): void => report.fail(`${label}: ${what}`);
  totals.writesAfterEnd += writesAfterEnd;
  const finished = finishedAt >= 0;
  if (finished) totals.finished++;
  else totals.destroyedByWriteAfterEnd++;
  for (let i = 0; i < delivered.length; i++) {
    if (delivered[i] !== beforeEnd[i]) {
      fail(`handed over #${i} is ${delivered[i]}, expected ${beforeEnd[i]}: lost, duplicated or reordered`);
      break;
    }
  }
  if (delivered.length > beforeEnd.length)
    fail(`${delivered.length - beforeEnd.length} messages handed over that were written after end()`);
  if (writesAfterEnd === 0 && !finished)
    fail(`no 'finish' though nothing was written after end(): ${errors.map(describe).join(', ')}`);
  if (finished && delivered.length !== beforeEnd.length) {
    fail(`'finish' with ${delivered.length} of ${beforeEnd.length} messages handed over`);
  }
  for (const record of callbacks) {
    if (record.calls !== 1) fail(`a callback was called ${record.calls} times`);
    const code = (record.error as { code?: unknown } | undefined)?.code;
    if (record.afterEnd && code !== 'ERR_STREAM_WRITE_AFTER_END') {
      fail(`a write after end() got ${record.error ? describe(record.error) : 'no error'}`);
    }
  }
  for (const flush of flushes) {
    totals.flushes++;
    const outcome = flush.outcome.outcome;
    if (outcome.state === 'pending') fail('a flush() never settled');
    else if (outcome.state === 'rejected') {
      totals.flushesRejected++;
      if (finished && flush.beforeFinish)
        fail(`a flush() called before 'finish' rejected: ${describe(outcome.error)}`);
    } else if (flush.deliveredAtResolve < flush.written) {
      fail(
        `a flush() resolved with ${flush.deliveredAtResolve} of the ${flush.written} messages written before it through`,
      );
    }
  }
}
