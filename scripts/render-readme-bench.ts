/**
 * `npm run docs:bench`: writes the README's benchmark figures from
 * bench/results/latest.json, so the README shows one set of figures, those of
 * the last full `npm run bench`. Each figure sits between
 * `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; text outside the markers
 * is left alone. `--check`: writes nothing, exits 1 if the README is stale
 * (spec/readme.spec.ts checks the same).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from '../bench/support/machine';
import { formatCount, formatMB, formatRatio } from '../bench/support/stats';
import type { SummaryRow } from '../bench/support/summary';
import { cellText, type LatencyBenchData } from '../bench/scenarios/latency';
import { PROJECT_ROOT as ROOT } from '../tools/support';

export const README = join(ROOT, 'README.md');
export const LATEST = join(ROOT, 'bench', 'results', 'latest.json');

/** The parts of bench/results/latest.json the README uses. */
export interface LatestBench {
  machine: MachineInfo;
  quick: boolean;
  reps: number;
  durationMs: number;
  warmupMs: number;
  rows: SummaryRow[];
  memory: { row: SummaryRow; growth: number; tolerance: number }[];
  extras?: { latency?: LatencyBenchData };
}

export function readLatest(file = LATEST): LatestBench {
  return JSON.parse(readFileSync(file, 'utf8')) as LatestBench;
}

function find(
  latest: LatestBench,
  scenario: string,
  group: string,
  variant: string,
  producers: number,
): SummaryRow {
  const row = latest.rows.find(
    (candidate) =>
      candidate.scenario === scenario &&
      candidate.group === group &&
      candidate.variant === variant &&
      candidate.producers === producers,
  );
  if (row === undefined)
    throw new Error(`latest.json has no ${scenario} ${group} ${variant} ×${producers} row`);
  return row;
}

function table(header: string[], body: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...body.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
}

/** One block (scenario and group): variants down, producer counts across, rate and ratio. */
function block(latest: LatestBench, scenario: string, group: string, order: string[]): string {
  const rows = latest.rows.filter((row) => row.scenario === scenario && row.group === group);
  const counts = [...new Set(rows.map((row) => row.producers))].sort((a, b) => a - b);
  const variants = order.filter((variant) => rows.some((row) => row.variant === variant));
  return table(
    ['Variant', ...counts.map((count) => `${count} producer${count === 1 ? '' : 's'}`)],
    variants.map((variant) => {
      const label = rows.find((row) => row.variant === variant)?.label ?? variant;
      const mine = variant === 'batching-writable' || variant === 'async-batch-stream';
      return [
        mine ? `**${label}**` : label,
        ...counts.map((count) => {
          const row = rows.find(
            (candidate) => candidate.variant === variant && candidate.producers === count,
          );
          if (row === undefined) return '–';
          if (row.intact < row.runs) return 'data lost';
          return `${formatCount(row.rate)} (${formatRatio(row.ratioToBaseline)})`;
        }),
      ];
    }),
  );
}

const BYTE_VARIANTS = [
  'batching-writable',
  'async-batch-stream',
  'hand-rolled',
  'writable-floor',
  'bulk-write-stream',
  'cork',
  'socket-write',
];
const OBJECT_VARIANTS = [
  'async-batch-stream',
  'batching-writable',
  'array-loop',
  'transform',
  'through2-batch',
  'batch-stream',
  'stream-batch',
];

/** Socket writes per message of every byte variant, 64 B × 256, both producer shapes. */
function writesPerMessage(latest: LatestBench): string {
  const groups = ['64 B', '64 B, async producers'];
  const per = (value: number): string =>
    Number.isFinite(value) && value > 0 ? (1 / value).toPrecision(2) : '–';
  return table(
    [
      '64 B × 256 producers',
      'socket writes / msg',
      'write syscalls / msg',
      'async shape: writes / msg',
      'syscalls / msg',
    ],
    BYTE_VARIANTS.filter((variant) =>
      latest.rows.some((row) => row.variant === variant && row.group === groups[0]),
    ).map((variant) => {
      const cells = groups.flatMap((group) => {
        const row = latest.rows.find(
          (candidate) =>
            candidate.scenario === 'bytes' &&
            candidate.group === group &&
            candidate.variant === variant &&
            candidate.producers === 256,
        );
        return row === undefined ? ['–', '–'] : [per(row.messagesPerWrite), per(row.messagesPerSyscall)];
      });
      const label = latest.rows.find((row) => row.variant === variant)?.label ?? variant;
      return [label, ...cells];
    }),
  );
}

const LATENCY_RATE_LABEL = (rate: number): string =>
  rate >= 1e6 ? `${rate / 1e6} M/s` : `${rate / 1e3} k/s`;

/** The latency table: variants down, offered rates across. */
function latencyTable(latency: LatencyBenchData | undefined): string {
  if (latency === undefined) return '(latest.json holds no latency run)';
  return [
    `Items arrive open-loop at a fixed rate; the consumer, a worker thread, waits 200 µs per call plus 1 µs per item, then acks; latency = ack − the time the item was due. ` +
      `Cells: p50 / p99 / p99.9 latency in ms (mean items per consumer call); “behind”: the rate was not sustained (the backlog kept growing), so no percentiles. ` +
      latency.durationNote.replace(/ Took [\d.]+ min\.$/, ''),
    '',
    table(
      ['Variant', ...latency.rates.map(LATENCY_RATE_LABEL)],
      latency.variants.map((variant) => [
        variant.id === 'batching-writable' || variant.id.startsWith('abs-')
          ? `**${variant.label}**`
          : variant.label,
        ...latency.rates.map((rate) =>
          cellText(latency.cells.find((cell) => cell.variant === variant.id && cell.rate === rate)),
        ),
      ]),
    ),
  ].join('\n');
}

/** Every figure the README shows, by marker name. */
export function renderReadmeFigures(latest: LatestBench): Record<string, string> {
  if (latest.quick) throw new Error('latest.json holds a quick run, whose speeds mean nothing');
  const m = latest.machine;
  const producers = 256;
  const bw = find(latest, 'bytes', '64 B', 'batching-writable', producers);
  const abs = find(latest, 'bytes', '64 B', 'async-batch-stream', producers);
  const naive = find(latest, 'bytes', '64 B', 'socket-write', producers);
  const cork = find(latest, 'bytes', '64 B', 'cork', producers);
  const bulk = find(latest, 'bytes', '64 B', 'bulk-write-stream', producers);
  const hand = find(latest, 'bytes', '64 B', 'hand-rolled', producers);
  const times = (a: SummaryRow, b: SummaryRow): string => formatRatio(a.rate / b.rate);
  const memory = latest.memory[0];
  const memoryText =
    memory === undefined
      ? ''
      : [
          '',
          '',
          `**Memory**: ${(memory.row.results[0]?.messages ?? 0).toLocaleString('en-US')} messages of 64 ` +
            `bytes from ${memory.row.producers} producers through \`BatchingWritable\` into the socket, at ` +
            `${formatCount(memory.row.rate)} msgs/s: the live heap grew by ${formatMB(memory.growth)} MB ` +
            `from the first checkpoint to the last (${memory.growth < memory.tolerance ? 'flat' : '**not flat**'}), ` +
            `peak \`heapUsed\` ${formatMB(memory.row.peakHeap)} MB.`,
        ].join('\n');
  return {
    machine:
      `Measured by \`npm run bench\` on ${m.cpuModel}, ${m.cores} cores, ${m.platform}, Node ${m.node}, ` +
      `${m.date.slice(0, 10)} (a shared machine: load ${m.loadStart.toFixed(1)} → ${m.loadEnd.toFixed(1)}). ` +
      `Each figure is the median of ${latest.reps} runs of ${latest.durationMs / 1000} s, each in a fresh ` +
      `process after ${latest.warmupMs} ms of warm-up; the receiving side checks every message.`,
    headline:
      `With ${producers} producers writing 64-byte messages into a loopback TCP socket, one ` +
      `\`socket.write()\` per message carried ${formatCount(naive.rate)} msgs/s; \`BatchingWritable\`, ` +
      `coalescing them into writes of up to 64 KiB, ${formatCount(bw.rate)} msgs/s ` +
      `(**${times(bw, naive)}**)`,
    cork:
      `cork + \`nextTick(uncork)\` ${formatCount(cork.rate)} msgs/s, \`BatchingWritable\` ` +
      `${formatCount(bw.rate)} (${times(bw, cork)})`,
    summary: [
      `| ${producers} producers, 64-byte messages into a socket | msgs/s | \`BatchingWritable\` runs at |`,
      '| --- | ---: | ---: |',
      `| **\`BatchingWritable\`** | ${formatCount(bw.rate)} | |`,
      `| **\`AsyncBatchStream\`** → socket | ${formatCount(abs.rate)} | ${times(bw, abs)} |`,
      `| a hand-rolled 64 KiB coalescing loop, the limit to aim for | ${formatCount(hand.rate)} | ${times(bw, hand)} |`,
      `| bulk-write-stream | ${formatCount(bulk.rate)} | ${times(bw, bulk)} |`,
      `| \`cork()\` + \`process.nextTick(uncork)\` | ${formatCount(cork.rate)} | ${times(bw, cork)} |`,
      `| one \`socket.write()\` per message | ${formatCount(naive.rate)} | ${times(bw, naive)} |`,
    ].join('\n'),
    tables:
      [
        '**Bytes into a loopback socket, 64-byte messages**, median msgs/s (× the hand-rolled loop):',
        '',
        block(latest, 'bytes', '64 B', BYTE_VARIANTS),
        '',
        '**Bytes into a loopback socket, 512-byte messages**:',
        '',
        block(latest, 'bytes', '512 B', BYTE_VARIANTS),
        '',
        '**Bytes, 64-byte messages, async producers** (each an async function awaiting once per message, writing one reused buffer):',
        '',
        block(latest, 'bytes', '64 B, async producers', BYTE_VARIANTS),
        '',
        '**Socket writes per message** (`_write`/`_writev` calls the socket got; write-class system calls of the process, from /proc/self/io):',
        '',
        writesPerMessage(latest),
        '',
        '**Objects into arrays of up to 1000**, median items/s (× a plain array push loop, the limit):',
        '',
        block(latest, 'objects', 'objects', OBJECT_VARIANTS),
        '',
        '**Objects, async producers**:',
        '',
        block(latest, 'objects', 'objects, async producers', OBJECT_VARIANTS),
      ].join('\n') + memoryText,
    latency: latencyTable(latest.extras?.latency),
  };
}

const MARKER = /<!-- bench:([a-z]+) -->[\s\S]*?<!-- \/bench:\1 -->/g;

/** The README with every marked figure replaced by its rendering. */
export function renderReadme(readme: string, figures: Record<string, string>): string {
  const seen = new Set<string>();
  const out = readme.replace(MARKER, (_whole, name: string) => {
    const figure = figures[name];
    if (figure === undefined) throw new Error(`README marker bench:${name} has no figure`);
    seen.add(name);
    // Block figures (tables) get their own lines; inline ones stay inline.
    const body = figure.includes('\n') || name === 'machine' ? `\n${figure}\n` : figure;
    return `<!-- bench:${name} -->${body}<!-- /bench:${name} -->`;
  });
  const missing = Object.keys(figures).filter((name) => !seen.has(name));
  if (missing.length > 0) throw new Error(`README lacks the markers of: ${missing.join(', ')}`);
  return out;
}

/** Rewrites the README's figures from latest.json; returns whether anything changed. */
export function updateReadmeFigures(): boolean {
  const current = readFileSync(README, 'utf8');
  const rendered = renderReadme(current, renderReadmeFigures(readLatest()));
  if (rendered !== current) writeFileSync(README, rendered);
  return rendered !== current;
}

if (require.main === module) {
  const current = readFileSync(README, 'utf8');
  const rendered = renderReadme(current, renderReadmeFigures(readLatest()));
  if (process.argv.includes('--check')) {
    if (current !== rendered) {
      console.error('README.md figures are stale: run npm run docs:bench');
      process.exitCode = 1;
    }
  } else if (current !== rendered) {
    writeFileSync(README, rendered);
    console.log(`wrote ${README}`);
  } else {
    console.log('README.md figures are current');
  }
}
