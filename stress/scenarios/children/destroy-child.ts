/**
 * Run by stress/scenarios/destroy.ts in its own process: many trials, each destroying a
 * stream at a random point (while accumulating, during a slow consumer,
 * during flush(), with a maxDelay timer pending, while ending), with or
 * without an error. After each, every write callback must have been called
 * exactly once, every flush() and end() callback settled, finished() settled,
 * and the consumer not called again. Prints one JSON line; then simply
 * returns: the parent checks that the process exits by itself (a timer left
 * behind would keep it alive).
 *
 *   node -r ts-node/register/transpile-only stress/scenarios/children/destroy-child.ts TRIALS SEED
 */
import { finished } from 'node:stream/promises';
import { AsyncBatchStream, BatchingWritable } from '../../../lib/index';
import { FACES, MODES, type Batch, type Batcher, type FaceName, type Mode } from '../../support/rig';
import {
  MESSAGE_BYTES,
  delay,
  describe,
  encodeMessage,
  nextTurn,
  randomSource,
  track,
  type Item,
  type Outcome,
  type Random,
} from '../../support/common';

export const PHASES = [
  'accumulating',
  'slow consumer',
  'during flush()',
  'maxDelay pending',
  'ending',
] as const;
type Phase = (typeof PHASES)[number];

export interface DestroyChildResult {
  trials: number;
  byPhase: Record<string, number>;
  writeCallbacks: number;
  callbacksWithError: number;
  flushes: number;
  flushesRejected: number;
  endCallbacks: number;
  violations: string[];
  /** Handles still open when the child was done (it must exit by itself anyway). */
  activeResources: string[];
}

const result: DestroyChildResult = {
  trials: 0,
  byPhase: {},
  writeCallbacks: 0,
  callbacksWithError: 0,
  flushes: 0,
  flushesRejected: 0,
  endCallbacks: 0,
  violations: [],
  activeResources: [],
};

function violation(what: string): void {
  if (result.violations.length < 40) result.violations.push(what);
}

/** Waits a random while: nothing, a microtask, a tick, a few turns or a short timer. */
async function randomPause(random: Random): Promise<void> {
  switch (random.int(0, 5)) {
    case 0:
      return;
    case 1:
      return Promise.resolve();
    case 2:
      return new Promise((resolve) => process.nextTick(resolve));
    case 3:
      return nextTurn();
    case 4:
      for (let i = random.int(2, 6); i > 0; i--) await nextTurn();
      return;
    default:
      return delay(random.int(0, 4));
  }
}

async function trial(face: FaceName, mode: Mode, phase: Phase, random: Random): Promise<void> {
  const label = `${face} ${mode} ${phase}`;
  result.trials++;
  result.byPhase[phase] = (result.byPhase[phase] ?? 0) + 1;
  const unit = mode === 'bytes' ? MESSAGE_BYTES : 1;
  const size = random.int(1, 32) * unit;
  const maxDelay =
    phase === 'accumulating'
      ? Infinity
      : phase === 'maxDelay pending'
        ? random.int(10_000, 2 ** 31 - 1)
        : random.pick([0, 0, 2]);
  let destroyed = false;
  let consumerCallsAfterDestroy = 0;
  /** Consumer: the slow phase holds batches long, sometimes forever. */
  const consume = (): void | Promise<void> => {
    if (destroyed) consumerCallsAfterDestroy++;
    if (phase === 'slow consumer') {
      return random.chance(0.2) ? new Promise<void>(() => {}) : delay(random.int(1, 8));
    }
    return random.chance(0.5) ? nextTurn() : undefined;
  };
  let stream: Batcher;
  if (face === 'BatchingWritable') {
    const onBatch = (_batch: Batch): void | Promise<void> => consume();
    stream =
      mode === 'bytes'
        ? new BatchingWritable({ size, maxDelay, onBatch, highWaterMark: 4 * size })
        : new BatchingWritable<Item>({ size, maxDelay, objectMode: true, onBatch, highWaterMark: 4 * size });
  } else {
    const options = { size, maxDelay, highWaterMark: 4 * size };
    const t: AsyncBatchStream<unknown> =
      mode === 'objects'
        ? new AsyncBatchStream({ ...options, objectMode: true })
        : new AsyncBatchStream(options);
    stream = t;
    // Downstream reads one batch per consume(); a slow phase reads slowly or never.
    let wake: (() => void) | null = null;
    const wakeUp = (): void => {
      wake?.();
      wake = null;
    };
    t.on('readable', wakeUp);
    t.on('close', wakeUp);
    const reader = async (): Promise<void> => {
      while (!t.destroyed) {
        const batch: unknown = t.read();
        if (batch === null) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const wait = consume();
        if (wait) await wait;
      }
    };
    void reader();
  }
  const errors: unknown[] = [];
  stream.on('error', (error) => errors.push(error));
  const closed = new Promise((resolve) => stream.once('close', resolve));
  const done = track(finished(stream));
  const message = (p: number, s: number): Buffer | Item =>
    mode === 'bytes' ? encodeMessage(p, s) : { p, s };

  const callbacks: { calls: number; error: unknown }[] = [];
  const callback = (): ((error?: Error | null) => void) => {
    const record = { calls: 0, error: undefined as unknown };
    callbacks.push(record);
    return (error) => {
      record.calls++;
      record.error = error;
    };
  };
  const flushes: { outcome: Outcome }[] = [];
  // ready(): one shared drain promise per cycle, as the README recommends.
  const drain = (): Promise<void> => stream.ready();
  const producer = async (p: number): Promise<void> => {
    for (let s = 0; s < 200 && !stream.destroyed && !stream.writableEnded;) {
      let ok: boolean;
      if (random.chance(0.2)) {
        const chunks = [];
        for (let i = random.int(1, 4); i > 0; i--) chunks.push(message(p, s++));
        ok = stream.writeV(chunks, callback());
      } else {
        ok = stream.write(message(p, s++), callback());
      }
      if (random.chance(0.05)) flushes.push(track(stream.flush()));
      if (!ok) await drain().catch(() => {});
      else if (random.chance(0.2)) await randomPause(random);
    }
  };
  const producers = [producer(0), producer(1), producer(2)];

  let endCallback: { calls: number; error: unknown } | null = null;
  await randomPause(random);
  if (phase === 'during flush()') {
    flushes.push(track(stream.flush()));
    await randomPause(random);
  } else if (phase === 'ending') {
    endCallback = { calls: 0, error: undefined };
    const record = endCallback;
    stream.end((error?: Error | null) => {
      record.calls++;
      record.error = error;
    });
    await randomPause(random);
  } else if (phase === 'slow consumer' || phase === 'maxDelay pending') {
    await delay(random.int(0, 6));
  }
  const withError = random.chance(0.5);
  const alreadyDestroyed = stream.destroyed; // finished, or a write after end() did it
  destroyed = true;
  const error = withError ? new Error(`destroyed: ${label}`) : undefined;
  stream.destroy(error);
  await closed;
  await Promise.all(producers);
  for (let i = 0; i < 3; i++) await nextTurn();

  const fail = (what: string): void => violation(`${label}: ${what}`);
  if (consumerCallsAfterDestroy > 0)
    fail(`the consumer was called ${consumerCallsAfterDestroy} times after destroy()`);
  for (const record of callbacks) {
    result.writeCallbacks++;
    if (record.calls !== 1) fail(`a write callback was called ${record.calls} times`);
    if (record.error) result.callbacksWithError++;
  }
  for (const flush of flushes) {
    result.flushes++;
    if (flush.outcome.state === 'pending') fail('a flush() never settled');
    if (flush.outcome.state === 'rejected') result.flushesRejected++;
  }
  if (endCallback !== null) {
    result.endCallbacks++;
    if (endCallback.calls !== 1) fail(`the end() callback was called ${endCallback.calls} times`);
  }
  if (done.outcome.state === 'pending') fail('finished() never settled');
  if (error && !alreadyDestroyed && (errors.length !== 1 || errors[0] !== error)) {
    fail(`'error' emitted ${errors.length} times: ${errors.map(describe).join(', ')}`);
  }
}

async function main(): Promise<void> {
  const trials = Number(process.argv[2] ?? 100);
  const random = randomSource(Number(process.argv[3] ?? 1));
  for (let i = 0; i < trials; i++) {
    await trial(random.pick(FACES), random.pick(MODES), PHASES[i % PHASES.length], random);
  }
  result.activeResources = (process as unknown as { getActiveResourcesInfo(): string[] })
    .getActiveResourcesInfo()
    .filter((name) => name !== 'TTYWrap' && name !== 'PipeWrap');
  console.log(JSON.stringify(result));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
