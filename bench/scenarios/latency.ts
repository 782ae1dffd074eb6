/**
 * Latency under load: the promise of smart batching is a short wait when
 * load is light and big batches when it is heavy. Items arrive open-loop at
 * a fixed rate (1 k to 1 M items/s); each carries the time it was due, so a
 * sender held up (by backpressure, or a busy event loop) is charged for it.
 * The consumer is a worker thread that, per call, waits (as I/O does, not
 * spinning) 200 µs plus 1 µs per item, then acks. Latency = the time the
 * main thread saw the ack − the item's due time.
 *
 * Variants, each one way to get items to that consumer:
 *
 *   BatchingWritable           onBatch calls the consumer; the next batch waits for it
 *   AsyncBatchStream → Writable, by stream.pipeline and by pipe(): an
 *                              object-mode Writable with the default highWaterMark
 *                              whose write() calls the consumer
 *   async cargoQueue           the closest peer: one worker takes up to `size`
 *                              pending items whenever it is free
 *   async queue                one item per call, concurrency 1
 *   linger 10 ms               a batch is sent at `size` items or 10 ms after its
 *                              first item, without waiting for the consumer (Kafka's
 *                              linger.ms, OpenTelemetry's batch processor)
 *   per tick                   the items written in one tick go in one call, without
 *                              waiting for the consumer (DataLoader's shape)
 *
 * Calls a variant makes while the consumer is busy wait in the worker's
 * queue, one at a time, as on one connection.
 *
 * A rate a variant cannot sustain is reported as "behind", never averaged:
 * the backlog (items due by now and not acked) passed a second of arrivals
 * (at least 1000 items), or the last ack came more than 250 ms after the
 * last item was due (the wait stops at 2 s), or latencies grew through the run (the last quarter's median above
 * twice the second quarter's plus 20 ms). The bounds are loose on purpose:
 * on a shared machine a stall of a few hundred ms is noise, not a verdict.
 * Higher rates are then not run for it.
 *
 * Each (variant, rate) runs in a fresh child process: a warm-up at the same
 * rate, then the measured window (5 s at 1 k/s, 2 s above). Every item must
 * be acked exactly once; otherwise the bench fails.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { pipeline, Writable } from 'node:stream';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { cargoQueue, queue } from 'async';
import type { Build } from '../support/build';
import { errorText, loadLib, type Mwsr } from '../support/lib';
import { renderLatencyChart, type LatencyChartSeries } from '../support/svg';

/** Offered loads, items per second. */
export const LATENCY_RATES = [1_000, 10_000, 100_000, 500_000, 1_000_000];
const QUICK_RATES = [1_000, 100_000];
/** Most items per batch (`size` of every batching variant). */
const BATCH_ITEMS = 1000;
/** The consumer's cost: a fixed wait per call plus a wait per item. */
const CALL_MICROS = 200;
const ITEM_MICROS = 1;
const LINGER_MS = 10;
/** Behind: more than this many seconds of arrivals due and not acked. */
const BACKLOG_SECONDS = 1;
/** Behind: the last quarter's median latency above twice the second quarter's plus this. */
const GROWTH_SLACK_MS = 20;
/** Behind: the last items not acked within this long after the end of the window. */
const DRAIN_LIMIT_MS = 2000;
/**
 * Behind: the last ack came this long after the last item was due. A rate
 * that is sustained drains within a consumer call or two (a linger more);
 * one whose backlog grew slowly through the window takes far longer.
 */
const SETTLE_LIMIT_MS = 250;

export interface LatencyVariant {
  id: string;
  label: string;
}

export const LATENCY_VARIANTS: readonly LatencyVariant[] = [
  { id: 'batching-writable', label: 'BatchingWritable' },
  { id: 'abs-pipeline', label: 'AsyncBatchStream → Writable (pipeline)' },
  { id: 'abs-pipe', label: 'AsyncBatchStream → Writable (pipe)' },
  { id: 'cargo-queue', label: 'async cargoQueue' },
  { id: 'queue', label: 'async queue (per item)' },
  { id: 'linger', label: 'linger 10 ms' },
  { id: 'per-tick', label: 'per tick (DataLoader)' },
];

/** One measured (variant, rate). Latencies in ms; NaN unless `status` is 'ok'. */
export interface LatencyCell {
  variant: string;
  rate: number;
  status: 'ok' | 'behind' | 'failed';
  /** Why behind or failed. */
  note: string;
  p50: number;
  p99: number;
  p999: number;
  /** Items per consumer call. */
  meanBatch: number;
  /** Items acked per second of the run (what it served). */
  served: number;
}

export interface LatencyTarget {
  description: string;
  measured: number;
  max: number;
  pass: boolean;
  missing: boolean;
}

export interface LatencyBenchData {
  rates: number[];
  variants: LatencyVariant[];
  cells: LatencyCell[];
  targets: LatencyTarget[];
  durationNote: string;
}

// ---- The consumer: a worker thread that waits, then acks ----------------------

const CONSUMER_ROLE = 'mwsr-latency-consumer';

interface Call {
  id: number;
  items: number;
}

function runConsumer(): void {
  const port = parentPort!;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  port.on('message', (call: Call) => {
    Atomics.wait(sleeper, 0, 0, (CALL_MICROS + ITEM_MICROS * call.items) / 1000);
    port.postMessage(call.id);
  });
}

interface LatencyItem {
  /** Index within the run. */
  i: number;
  /** When it was due (performance.now()). */
  due: number;
}

/** Hands batches to the worker and records each item's latency at the ack. */
class Consumer {
  calls = 0;
  items = 0;
  acked = 0;
  /** performance.now() at the latest ack. */
  lastAck = 0;
  problem = '';
  readonly latencies: Float64Array;
  readonly #seen: Uint8Array;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { batch: readonly LatencyItem[]; resolve: () => void }>();
  #nextId = 0;

  constructor(worker: Worker, capacity: number) {
    this.#worker = worker;
    this.latencies = new Float64Array(capacity);
    this.#seen = new Uint8Array(capacity);
    worker.on('message', (id: number) => {
      const now = performance.now();
      this.lastAck = now;
      const call = this.#pending.get(id);
      if (call === undefined) return;
      this.#pending.delete(id);
      for (const item of call.batch) {
        if (this.#seen[item.i] !== 0) this.problem ||= `item ${item.i} acked twice`;
        this.#seen[item.i] = 1;
        this.latencies[item.i] = now - item.due;
      }
      this.acked += call.batch.length;
      call.resolve();
    });
  }

  call(batch: readonly LatencyItem[]): Promise<void> {
    if (batch.length === 0) this.problem ||= 'an empty batch';
    this.calls++;
    this.items += batch.length;
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, { batch, resolve });
      this.#worker.postMessage({ id, items: batch.length } satisfies Call);
    });
  }
}

// ---- Variants -------------------------------------------------------------------

interface Sink {
  /** False: wait for `onDrain` before writing more (streams only). */
  write(item: LatencyItem): boolean;
  onDrain(listener: () => void): void;
}

type SinkFactory = (consumer: Consumer, lib: Mwsr, fail: (error: unknown) => void) => Sink;

/** An object-mode Writable written the usual way (default highWaterMark) that calls the consumer. */
function consumerWritable(consumer: Consumer): Writable {
  return new Writable({
    objectMode: true,
    write(batch: LatencyItem[], _encoding, callback) {
      consumer.call(batch).then(() => callback(), callback);
    },
  });
}

/** A Node-style completion callback that reports an error to `fail`. */
function failOnError(fail: (error: unknown) => void): (error?: Error | null) => void {
  return (error) => {
    if (error) fail(error);
  };
}

function streamSink(stream: Writable): Sink {
  return { write: (item) => stream.write(item), onDrain: (listener) => void stream.on('drain', listener) };
}

const SINKS: Record<string, SinkFactory> = {
  'batching-writable': (consumer, lib, fail) => {
    const stream = new lib.BatchingWritable<LatencyItem>({
      objectMode: true,
      size: BATCH_ITEMS,
      onBatch: (batch) => consumer.call(batch),
    });
    stream.on('error', fail);
    return streamSink(stream);
  },
  'abs-pipeline': (consumer, lib, fail) => {
    const stream = new lib.AsyncBatchStream<LatencyItem>({ objectMode: true, size: BATCH_ITEMS });
    pipeline(stream, consumerWritable(consumer), failOnError(fail));
    return streamSink(stream);
  },
  'abs-pipe': (consumer, lib, fail) => {
    const stream = new lib.AsyncBatchStream<LatencyItem>({ objectMode: true, size: BATCH_ITEMS });
    const destination = consumerWritable(consumer);
    stream.on('error', fail);
    destination.on('error', fail);
    stream.pipe(destination);
    return streamSink(stream);
  },
  'cargo-queue': (consumer, _lib, fail) => {
    const cargo = cargoQueue<LatencyItem>(
      (items, callback) => {
        consumer.call(items).then(() => callback(), callback);
      },
      1,
      BATCH_ITEMS,
    );
    const done = failOnError(fail);
    return {
      write: (item) => (void cargo.push(item, done), true),
      onDrain: () => {},
    };
  },
  queue: (consumer, _lib, fail) => {
    const perItem = queue<LatencyItem>((item, callback) => {
      consumer.call([item]).then(() => callback(), callback);
    }, 1);
    const done = failOnError(fail);
    return {
      write: (item) => (void perItem.push(item, done), true),
      onDrain: () => {},
    };
  },
  linger: (consumer, _lib, fail) => {
    let open: LatencyItem[] = [];
    let timer: NodeJS.Timeout | null = null;
    const send = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      const batch = open;
      open = [];
      consumer.call(batch).catch(fail);
    };
    return {
      write(item) {
        open.push(item);
        if (open.length >= BATCH_ITEMS) send();
        else if (open.length === 1) timer = setTimeout(send, LINGER_MS);
        return true;
      },
      onDrain: () => {},
    };
  },
  'per-tick': (consumer, _lib, fail) => {
    let open: LatencyItem[] = [];
    const send = (): void => {
      if (open.length === 0) return;
      const batch = open;
      open = [];
      consumer.call(batch).catch(fail);
    };
    return {
      write(item) {
        open.push(item);
        if (open.length === 1) process.nextTick(send);
        else if (open.length >= BATCH_ITEMS) send();
        return true;
      },
      onDrain: () => {},
    };
  },
};

// ---- One run: offer items at a rate, wait for the acks ---------------------------

interface RunConfig {
  variant: string;
  rate: number;
  durationMs: number;
  warmupMs: number;
  libDir: string;
}

interface RunOutcome {
  status: 'ok' | 'behind' | 'failed';
  note: string;
  /** Latencies of the measured items, ms, sorted; empty unless ok. */
  sorted: number[];
  meanBatch: number;
  served: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function medianOf(values: Float64Array): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return quantile(sorted, 0.5);
}

/**
 * Offers `total` items at `rate` to a fresh sink and waits until all are
 * acked, or the run falls behind.
 */
async function offer(
  worker: Worker,
  lib: Mwsr,
  variant: string,
  rate: number,
  durationMs: number,
): Promise<RunOutcome> {
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const consumer = new Consumer(worker, total);
  let failure: string | null = null;
  const sink = SINKS[variant](consumer, lib, (error) => {
    failure ??= errorText(error);
  });
  const interval = 1000 / rate;
  const backlogLimit = Math.max(1000, rate * BACKLOG_SECONDS);
  const start = performance.now() + 1;
  let next = 0;
  let waitingForDrain = false;
  let behind = '';

  const result = await new Promise<'done' | 'stopped'>((resolve) => {
    let finished = false;
    const finish = (how: 'done' | 'stopped'): void => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      resolve(how);
    };
    const dueByNow = (now: number): number => Math.min(total, Math.floor((now - start) / interval) + 1);
    // Checks the backlog even while the sender waits for a drain.
    const watchdog = setInterval(() => {
      const now = performance.now();
      if (failure !== null) return finish('stopped');
      const backlog = dueByNow(now) - consumer.acked;
      if (backlog > backlogLimit) {
        behind = `backlog ${backlog} items`;
        return finish('stopped');
      }
      if (consumer.acked === total) return finish('done');
      const lastDue = start + (total - 1) * interval;
      if (now - lastDue > DRAIN_LIMIT_MS) {
        behind = `${total - consumer.acked} items not acked ${DRAIN_LIMIT_MS} ms after the last was due`;
        finish('stopped');
      }
    }, 5);
    const step = (): void => {
      if (finished) return;
      const due = dueByNow(performance.now());
      while (next < due) {
        const item: LatencyItem = { i: next, due: start + next * interval };
        next++;
        if (!sink.write(item)) {
          waitingForDrain = true;
          return;
        }
      }
      if (next < total) setImmediate(step);
    };
    sink.onDrain(() => {
      if (!waitingForDrain) return;
      waitingForDrain = false;
      step();
    });
    setImmediate(step);
  });

  const elapsed = performance.now() - start;
  const served = (consumer.acked / Math.max(1, elapsed)) * 1000;
  const meanBatch = consumer.calls === 0 ? NaN : consumer.items / consumer.calls;
  const failedWith = failure ?? (consumer.problem === '' ? null : consumer.problem);
  if (failedWith !== null) return { status: 'failed', note: failedWith, sorted: [], meanBatch, served };
  if (result === 'stopped') return { status: 'behind', note: behind, sorted: [], meanBatch, served };
  const settleMs = consumer.lastAck - (start + (total - 1) * interval);
  if (settleMs > SETTLE_LIMIT_MS) {
    const note = `the last ack came ${settleMs.toFixed(0)} ms after the last item was due`;
    return { status: 'behind', note, sorted: [], meanBatch, served };
  }
  // Latencies growing through the run: the backlog grows, slowly.
  const quarter = Math.floor(total / 4);
  if (quarter >= 100) {
    const second = medianOf(consumer.latencies.subarray(quarter, 2 * quarter));
    const last = medianOf(consumer.latencies.subarray(3 * quarter));
    if (last > 2 * second + GROWTH_SLACK_MS) {
      return {
        status: 'behind',
        note: `latency grew: median ${second.toFixed(2)} ms in the second quarter, ${last.toFixed(2)} ms in the last`,
        sorted: [],
        meanBatch,
        served,
      };
    }
  }
  const sorted = Array.from(consumer.latencies).sort((a, b) => a - b);
  return { status: 'ok', note: '', sorted, meanBatch, served };
}

async function runCase(config: RunConfig, script: string): Promise<LatencyCell> {
  const lib = loadLib(config.libDir);
  const worker = new Worker(script, { workerData: { role: CONSUMER_ROLE } });
  await once(worker, 'online');
  const cell = (outcome: RunOutcome): LatencyCell => ({
    variant: config.variant,
    rate: config.rate,
    status: outcome.status,
    note: outcome.note,
    p50: quantile(outcome.sorted, 0.5),
    p99: quantile(outcome.sorted, 0.99),
    p999: quantile(outcome.sorted, 0.999),
    meanBatch: outcome.meanBatch,
    served: outcome.served,
  });
  try {
    if (config.warmupMs > 0) {
      const warmup = await offer(worker, lib, config.variant, config.rate, config.warmupMs);
      if (warmup.status !== 'ok') return cell({ ...warmup, note: `warm-up: ${warmup.note}` });
    }
    return cell(await offer(worker, lib, config.variant, config.rate, config.durationMs));
  } catch (error) {
    return cell({ status: 'failed', note: errorText(error), sorted: [], meanBatch: NaN, served: 0 });
  }
}

// ---- Orchestrator ---------------------------------------------------------------

function runInChild(script: string, config: RunConfig): Promise<LatencyCell> {
  const child = fork(script, ['--child', JSON.stringify(config)], {
    execArgv: [],
    serialization: 'advanced', // structured clone: NaN survives
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), config.durationMs * 3 + config.warmupMs * 3 + 30_000);
  let result: LatencyCell | null = null;
  child.once('message', (message: LatencyCell) => {
    result = message;
  });
  return once(child, 'exit').then(([code]: unknown[]) => {
    clearTimeout(timer);
    return (
      result ?? {
        variant: config.variant,
        rate: config.rate,
        status: 'failed',
        note: `child exited with ${String(code)} and no result`,
        p50: NaN,
        p99: NaN,
        p999: NaN,
        meanBatch: NaN,
        served: 0,
      }
    );
  });
}

function durationFor(rate: number, quick: boolean): number {
  if (quick) return 100;
  return rate <= 1000 ? 5000 : 2000;
}

function formatRate(rate: number): string {
  return rate >= 1e6 ? `${rate / 1e6} M` : `${rate / 1e3} k`;
}

function formatServed(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)} M`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)} k`;
  return rate.toFixed(0);
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

/** One table cell: p50 / p99 / p99.9 ms and mean batch, or why there is none. */
export function cellText(cell: LatencyCell | undefined): string {
  if (cell === undefined) return '–';
  if (cell.status === 'failed') return `**failed**: ${cell.note}`;
  if (cell.status === 'behind') {
    return cell.served > 0 ? `behind (served ${formatServed(cell.served)}/s)` : 'behind';
  }
  return `${formatMs(cell.p50)} / ${formatMs(cell.p99)} / ${formatMs(cell.p999)} (${cell.meanBatch.toFixed(1)})`;
}

function latencyTargets(cells: readonly LatencyCell[], rates: readonly number[]): LatencyTarget[] {
  const targets: LatencyTarget[] = [];
  const find = (variant: string, rate: number): LatencyCell | undefined =>
    cells.find((cell) => cell.variant === variant && cell.rate === rate);
  const value = (cell: LatencyCell | undefined, key: 'p50' | 'p99'): number =>
    cell?.status === 'ok' ? cell[key] : NaN;
  const add = (description: string, measured: number, max: number): void => {
    const missing = !Number.isFinite(measured);
    targets.push({ description, measured, max, pass: !missing && measured <= max, missing });
  };
  for (const rate of rates) {
    const cargo = find('cargo-queue', rate);
    if (cargo?.status !== 'ok') continue;
    const mine = find('batching-writable', rate);
    for (const key of ['p50', 'p99'] as const) {
      add(
        `${formatRate(rate)}/s: BatchingWritable ${key} / cargoQueue's`,
        value(mine, key) / value(cargo, key),
        1.1,
      );
    }
  }
  if (rates.includes(1000)) {
    add(
      '1 k/s: BatchingWritable p99 / linger 10 ms p99',
      value(find('batching-writable', 1000), 'p99') / value(find('linger', 1000), 'p99'),
      0.2,
    );
  }
  for (const rate of [10_000, 100_000].filter((candidate) => rates.includes(candidate))) {
    for (const variant of ['abs-pipeline', 'abs-pipe']) {
      const label = LATENCY_VARIANTS.find((candidate) => candidate.id === variant)?.label ?? variant;
      add(
        `${formatRate(rate)}/s: ${label} p50 / BatchingWritable's`,
        value(find(variant, rate), 'p50') / value(find('batching-writable', rate), 'p50'),
        1.3,
      );
    }
  }
  return targets;
}

/** The log-log chart of latency against offered load: p50 and p99 panels. */
export function latencyChart(data: LatencyBenchData, subtitle: string): string {
  const colors: Record<string, string> = {
    'batching-writable': '#2e9d6e',
    'abs-pipeline': '#d6455a',
    'abs-pipe': '#eb9aa5',
    'cargo-queue': '#5a8fd6',
    queue: '#9e9e9e',
    linger: '#f2a93b',
    'per-tick': '#b07cc6',
  };
  const panel = (key: 'p50' | 'p99'): { title: string; series: LatencyChartSeries[] } => ({
    title: `${key} latency (ms) against offered load (items/s); a missing point: behind`,
    series: data.variants.map((variant) => ({
      label: variant.label,
      color: colors[variant.id] ?? '#333',
      points: data.rates.map((rate) => {
        const cell = data.cells.find(
          (candidate) => candidate.variant === variant.id && candidate.rate === rate,
        );
        return { x: rate, y: cell?.status === 'ok' ? cell[key] : NaN };
      }),
    })),
  });
  return renderLatencyChart('mwsr bench: latency under load', subtitle, [panel('p50'), panel('p99')]);
}

/**
 * Runs the latency bench; `ok` is false if any run lost or repeated an item
 * or failed. Quick: 1 k and 100 k items/s for 100 ms each, no warm-up (a
 * check that every variant delivers, not a measurement).
 */
export async function runLatencyBench(opts: {
  quick: boolean;
  build: Build;
  /** Variant ids to run (null: all). */
  variants?: Set<string> | null;
}): Promise<{ markdown: string; ok: boolean; data: LatencyBenchData }> {
  const rates = opts.quick ? QUICK_RATES : LATENCY_RATES;
  const chosen = LATENCY_VARIANTS.filter((variant) => opts.variants?.has(variant.id) ?? true);
  const variants = chosen.length > 0 ? chosen : LATENCY_VARIANTS;
  const warmupMs = opts.quick ? 0 : 300;
  const script = `${opts.build.dir}/bench/scenarios/latency.js`;
  const cells: LatencyCell[] = [];
  const behindAt = new Map<string, number>();
  const started = performance.now();
  for (const [index, rate] of rates.entries()) {
    // Rotated each rate, so no variant always runs first.
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(k + index) % variants.length];
      const lower = behindAt.get(variant.id);
      let cell: LatencyCell;
      if (lower !== undefined) {
        cell = {
          variant: variant.id,
          rate,
          status: 'behind',
          note: `not run: behind at ${formatRate(lower)}/s`,
          p50: NaN,
          p99: NaN,
          p999: NaN,
          meanBatch: NaN,
          served: 0,
        };
      } else {
        cell = await runInChild(script, {
          variant: variant.id,
          rate,
          durationMs: durationFor(rate, opts.quick),
          warmupMs,
          libDir: opts.build.libDir,
        });
        if (cell.status !== 'ok') behindAt.set(variant.id, rate);
        process.stderr.write(
          `[latency] ${formatRate(rate)}/s ${variant.label}: ${cellText(cell)}${cell.note ? ` (${cell.note})` : ''}\n`,
        );
      }
      cells.push(cell);
    }
  }
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  const targets = opts.quick ? [] : latencyTargets(cells, rates);
  const durationNote = opts.quick
    ? 'Quick mode: 100 ms per rate, no warm-up: a check that every variant delivers every item once; the figures mean nothing.'
    : `Each (variant, rate) in a fresh process: 300 ms of warm-up at the rate, then 5 s (1 k/s) or 2 s of arrivals measured; one run each. Took ${minutes} min.`;
  const failed = cells.filter((cell) => cell.status === 'failed');

  const lines: string[] = [];
  lines.push('## Latency under load', '');
  lines.push(
    `Items arrive open-loop at a fixed rate, each stamped with the time it was due (a held-up sender is charged). ` +
      `The consumer, a worker thread, waits ${CALL_MICROS} µs per call plus ${ITEM_MICROS} µs per item (as I/O does: it sleeps), then acks; ` +
      `latency = when the ack reached the main thread − when the item was due. Batches of at most ${BATCH_ITEMS} items. ` +
      `Calls made while the consumer is busy queue in the worker, one at a time. ` +
      `“behind”: the rate was not sustained (a backlog above ${BACKLOG_SECONDS} s of arrivals, the last ack more than ${SETTLE_LIMIT_MS} ms after the last item was due, or the last quarter's median latency above twice the second quarter's + ${GROWTH_SLACK_MS} ms); ` +
      `no percentiles are given for it, and higher rates are not run. At 1 M items/s the consumer's 1 µs per item alone is the whole time between arrivals: no variant can keep up. ` +
      durationNote,
  );
  lines.push('');
  lines.push('Cells: p50 / p99 / p99.9 latency in ms (mean items per consumer call).');
  lines.push('');
  lines.push(`| Variant | ${rates.map((rate) => `${formatRate(rate)}/s`).join(' | ')} |`);
  lines.push(`| --- |${rates.map(() => ' ---: |').join('')}`);
  for (const variant of variants) {
    const row = rates.map((rate) =>
      cellText(cells.find((cell) => cell.variant === variant.id && cell.rate === rate)),
    );
    lines.push(`| ${variant.label} | ${row.join(' | ')} |`);
  }
  lines.push('');
  if (targets.length > 0) {
    lines.push('Targets (reported, never fail the run); a rate cargoQueue falls behind at has none:', '');
    lines.push('| Target | Measured | Required | Verdict |', '| --- | ---: | ---: | ---: |');
    for (const target of targets) {
      const verdict = target.missing ? 'n/a' : target.pass ? 'PASS' : '**FAIL**';
      const measured = Number.isFinite(target.measured) ? `${target.measured.toFixed(2)}×` : '–';
      lines.push(`| ${target.description} | ${measured} | ≤ ${target.max}× | ${verdict} |`);
    }
    const sustains = rates.filter((rate) => {
      const cargo = cells.find((cell) => cell.variant === 'cargo-queue' && cell.rate === rate);
      const mine = cells.find((cell) => cell.variant === 'batching-writable' && cell.rate === rate);
      return cargo?.status === 'ok' && mine?.status !== 'ok';
    });
    lines.push(
      '',
      `BatchingWritable sustains every rate cargoQueue does: ${sustains.length === 0 ? 'PASS' : `**FAIL** (${sustains.map(formatRate).join(', ')})`}.`,
    );
    lines.push('');
  }
  lines.push('![latency against offered load](latency.svg)', '');
  if (failed.length > 0) {
    lines.push(
      `**Failed runs:** ${failed.map((cell) => `${cell.variant} at ${formatRate(cell.rate)}/s: ${cell.note}`).join('; ')}`,
      '',
    );
  }
  return {
    markdown: lines.join('\n'),
    ok: failed.length === 0,
    data: { rates, variants: [...variants], cells, targets, durationNote },
  };
}

// ---- Roles: consumer thread, child process ------------------------------------------

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === CONSUMER_ROLE) {
  runConsumer();
} else if (require.main === module) {
  const childIndex = process.argv.indexOf('--child');
  if (childIndex >= 0) {
    const config = JSON.parse(process.argv[childIndex + 1]) as RunConfig;
    void runCase(config, __filename).then((cell) => {
      // Calls may still wait in the consumer (a run that fell behind): exit without them.
      process.send!(cell, () => process.exit(0));
    });
  }
}
