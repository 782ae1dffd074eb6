/**
 * Concurrency bench (docs/semantics.md 23): a consumer of fixed latency (each
 * `onBatch` call takes LATENCY_MS, as a request to a remote sink would),
 * fed by 64 producers writing `{p, s}` items as fast as backpressure lets
 * them, through `BatchingWritable` with `concurrency` 1 and 4. Reported:
 * items/s delivered, batches, and the ratio of `concurrency` 4 to 1 within
 * each repetition (median, min–max). With a latency-bound consumer the ideal
 * is 4×; the batches then hold fewer items each, which takes some of it back.
 *
 * In-process and latency-bound (the CPU is idle while calls wait), so the
 * figures hold on a shared machine better than the CPU-bound scenarios'.
 * Every batch is checked: per-producer order, every item delivered once.
 *
 *   npm run bench -- --only=concurrency [--reps=N] [--duration=MS]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchingWritable } from '../../lib/index';
import { median } from '../../tools/support';

const LATENCY_MS = 5;
const SIZE = 100;
const PRODUCERS = 64;
const LEVELS = [1, 4] as const;
/** Quick mode: items per run, enough to pass through every path once. */
const QUICK_ITEMS = 4000;

interface Item {
  p: number;
  s: number;
}

interface Run {
  concurrency: number;
  itemsPerSecond: number;
  batches: number;
  itemsPerBatch: number;
  problems: string[];
}

/** One run: producers write for `durationMs` (or `items` in all), then the stream ends. */
async function runOnce(concurrency: number, durationMs: number, items: number): Promise<Run> {
  const next = new Array<number>(PRODUCERS).fill(0);
  const problems: string[] = [];
  let delivered = 0;
  const stream = new BatchingWritable<Item>({
    objectMode: true,
    size: SIZE,
    concurrency,
    onBatch: async (batch) => {
      for (const item of batch) {
        if (item.s !== next[item.p]) problems.push(`producer ${item.p}: ${item.s}, expected ${next[item.p]}`);
        next[item.p] = item.s + 1;
      }
      delivered += batch.length;
      await sleep(LATENCY_MS);
    },
  });
  const started = performance.now();
  const deadline = started + durationMs;
  let written = 0;
  const sequence = new Array<number>(PRODUCERS).fill(0);
  const producer = async (p: number): Promise<void> => {
    while (written < items && performance.now() < deadline) {
      written++;
      if (!stream.write({ p, s: sequence[p]++ })) await stream.ready();
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)));
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.end(resolve);
  });
  const seconds = (performance.now() - started) / 1000;
  if (delivered !== written) problems.push(`${written} written, ${delivered} delivered`);
  const { batches } = stream.stats;
  return {
    concurrency,
    itemsPerSecond: delivered / seconds,
    batches,
    itemsPerBatch: batches === 0 ? 0 : delivered / batches,
    problems,
  };
}

export interface ConcurrencyBenchData {
  latencyMs: number;
  size: number;
  producers: number;
  rows: { concurrency: number; itemsPerSecond: number; itemsPerBatch: number }[];
  /** Concurrency 4 over 1, per repetition: median, min, max. */
  ratio: { median: number; min: number; max: number };
}

export async function runConcurrencyBench(opts: {
  quick: boolean;
  reps: number;
  durationMs: number;
}): Promise<{ markdown: string; ok: boolean; data: ConcurrencyBenchData }> {
  const reps = opts.quick ? 1 : opts.reps;
  const durationMs = opts.quick ? Infinity : opts.durationMs;
  const items = opts.quick ? QUICK_ITEMS : Infinity;
  const runs = new Map<number, Run[]>(LEVELS.map((level) => [level, []]));
  const ratios: number[] = [];
  const problems: string[] = [];
  for (let rep = 0; rep < reps; rep++) {
    // Interleaved, the order rotated each repetition.
    const order = rep % 2 === 0 ? [...LEVELS] : [...LEVELS].reverse();
    const byLevel = new Map<number, Run>();
    for (const level of order) {
      const run = await runOnce(level, durationMs, items);
      byLevel.set(level, run);
      runs.get(level)?.push(run);
      problems.push(...run.problems.slice(0, 3));
    }
    ratios.push((byLevel.get(4) as Run).itemsPerSecond / (byLevel.get(1) as Run).itemsPerSecond);
  }
  const rows = LEVELS.map((level) => {
    const list = runs.get(level) as Run[];
    return {
      concurrency: level,
      itemsPerSecond: median(list.map((run) => run.itemsPerSecond)),
      itemsPerBatch: median(list.map((run) => run.itemsPerBatch)),
    };
  });
  const ratio = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
  const lines = [
    '## Concurrency: a consumer of fixed latency',
    '',
    `\`BatchingWritable\`, object mode, \`size: ${SIZE}\`, ${PRODUCERS} producers; each \`onBatch\` call takes ${LATENCY_MS} ms. Medians of ${reps} interleaved repetition(s).`,
    '',
    '| `concurrency` | items/s | items per batch |',
    '| ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.concurrency} | ${Math.round(row.itemsPerSecond).toLocaleString('en-US')} | ${row.itemsPerBatch.toFixed(1)} |`,
    ),
    '',
    `\`concurrency: 4\` / \`concurrency: 1\`: ${ratio.median.toFixed(2)}× (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}×)` +
      (opts.quick ? '' : `; target ≥ 3×: ${ratio.median >= 3 ? 'PASS' : 'FAIL'}`),
    ...(problems.length > 0 ? ['', `**Data problems:** ${problems.join('; ')}`] : []),
    '',
  ];
  return {
    markdown: lines.join('\n'),
    ok: problems.length === 0,
    data: { latencyMs: LATENCY_MS, size: SIZE, producers: PRODUCERS, rows, ratio },
  };
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  void runConcurrencyBench({ quick, reps: 5, durationMs: 1000 }).then((report) => {
    console.log(report.markdown);
    if (!report.ok) process.exitCode = 1;
  });
}
