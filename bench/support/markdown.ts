/** The Markdown report: machine, targets, one table per block, memory, extra sections. */
import type { HeapCheckpoint } from './jobs';
import { machineLine, type MachineInfo } from './machine';
import { formatCount, formatMB, formatRatio, formatSpread } from './stats';
import type { SummaryRow, TargetResult } from './summary';

export interface MemoryReport {
  row: SummaryRow;
  /** Live-heap growth from the first checkpoint to the last, bytes. */
  growth: number;
  /** Growth below this counts as flat. */
  tolerance: number;
}

export interface ReportInput {
  title: string;
  machine: MachineInfo;
  /** Run settings worth reading next to the numbers (reps, duration, …). */
  settings: string;
  /** Free text: what else ran on the machine, how to read the numbers. */
  notes: string[];
  rows: SummaryRow[];
  targets: TargetResult[];
  /** Name of each scenario's baseline variant, for the ratio column headings. */
  baselineLabels: Record<string, string>;
  memory: MemoryReport[];
  extraSections: string[];
}

function table(header: string[], body: string[][]): string {
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const cells of body) lines.push(`| ${cells.join(' | ')} |`);
  return lines.join('\n');
}

function boundText(target: TargetResult): string {
  return 'min' in target.bound ? `≥ ${target.bound.min}×` : `≤ ${target.bound.max}×`;
}

function verdict(target: TargetResult): string {
  if (target.missing) return 'n/a';
  return target.pass ? 'PASS' : '**FAIL**';
}

function uniqueInOrder<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** One block (e.g. bytes, 64 B): an overview by producer count, then every figure. */
function blockSection(
  rows: SummaryRow[],
  heading: string,
  unit: string,
  baselineLabel: string,
  bytes: boolean,
): string {
  const producerCounts = uniqueInOrder(rows.map((row) => row.producers)).sort((a, b) => a - b);
  const variants = uniqueInOrder(rows.map((row) => row.variant));
  const labelOf = (variant: string): string => rows.find((row) => row.variant === variant)?.label ?? variant;
  const overview = table(
    ['Variant', ...producerCounts.map((count) => `${count} producer${count === 1 ? '' : 's'}`)],
    variants.map((variant) => [
      labelOf(variant),
      ...producerCounts.map((count) => {
        const row = rows.find((candidate) => candidate.variant === variant && candidate.producers === count);
        if (row === undefined) return '–';
        if (row.intact < row.runs) return `**data lost** (${row.errors[0] ?? ''})`;
        return `${formatCount(row.rate)} (${formatRatio(row.ratioToBaseline)})`;
      }),
    ]),
  );
  const detailHeader = bytes
    ? [
        'Variant',
        'Producers',
        unit,
        'spread',
        'MB/s',
        'socket writes',
        'msgs/write',
        'msgs/syscall',
        'stalls/1k',
        'client CPU ns/msg',
        `× ${baselineLabel}`,
      ]
    : ['Variant', 'Producers', unit, 'spread', 'peak heap MB', 'stalls/1k', `× ${baselineLabel}`];
  const detail = table(
    detailHeader,
    [...rows]
      .sort((a, b) => a.producers - b.producers || variants.indexOf(a.variant) - variants.indexOf(b.variant))
      .map((row) =>
        bytes
          ? [
              row.label,
              String(row.producers),
              formatCount(row.rate),
              formatSpread(row.spread),
              row.megabytesPerSecond.toFixed(0),
              formatCount(row.socketWrites),
              row.messagesPerWrite.toFixed(1),
              Number.isFinite(row.messagesPerSyscall) ? row.messagesPerSyscall.toFixed(1) : '–',
              (row.stallsPerThousand ?? NaN).toFixed(1),
              row.cpuNsPerMessage.toFixed(0),
              formatRatio(row.ratioToBaseline),
            ]
          : [
              row.label,
              String(row.producers),
              formatCount(row.rate),
              formatSpread(row.spread),
              formatMB(row.peakHeap),
              (row.stallsPerThousand ?? NaN).toFixed(1),
              formatRatio(row.ratioToBaseline),
            ],
      ),
  );
  return [
    `### ${heading}`,
    '',
    `Median ${unit} (× ${baselineLabel} in the same run):`,
    '',
    overview,
    '',
    detail,
  ].join('\n');
}

function memorySection(memory: MemoryReport): string {
  const { row, growth, tolerance } = memory;
  const result = row.results[0];
  const lines = [
    `## Memory: ${row.label}, ${row.producers} producers, ${row.group} messages into the socket`,
    '',
  ];
  if (result === undefined || !result.ok) {
    lines.push(`**The run failed**: ${result?.error ?? 'no result'}`);
    return lines.join('\n');
  }
  const checkpoints: HeapCheckpoint[] = result.checkpoints ?? [];
  lines.push(
    table(
      [
        'Messages',
        'heapUsed (sampled) MB',
        'live heap after GC MB',
        'peak heapUsed since previous MB',
        'RSS MB',
      ],
      checkpoints.map((checkpoint) => [
        formatCount(checkpoint.messages),
        formatMB(checkpoint.heapUsed),
        formatMB(checkpoint.heapLive),
        formatMB(checkpoint.heapPeak),
        formatMB(checkpoint.rss),
      ]),
    ),
    '',
    `Live heap growth from the first to the last checkpoint: ${formatMB(growth)} MB ` +
      `(flat if under ${formatMB(tolerance)} MB): ${Number.isFinite(growth) && growth < tolerance ? 'PASS' : '**FAIL**'}. ` +
      `Throughput over the run: ${formatCount((result.messages / result.elapsedMs) * 1000)} msgs/s, ` +
      `${formatCount(result.socketWrites)} socket writes, peak heapUsed ${formatMB(result.peakHeap)} MB.`,
  );
  return lines.join('\n');
}

export function renderMarkdown(input: ReportInput): string {
  const out: string[] = [
    `# ${input.title}`,
    '',
    `Machine: ${machineLine(input.machine)}.`,
    '',
    input.settings,
    '',
  ];
  for (const note of input.notes) out.push(`- ${note}`);
  if (input.notes.length > 0) out.push('');

  if (input.targets.length > 0) {
    out.push('## Targets (ratios within this run)', '');
    out.push(
      table(
        ['Target', 'Measured', 'Required', 'Verdict'],
        input.targets.map((target) => [
          target.description,
          formatRatio(target.measured),
          boundText(target),
          verdict(target),
        ]),
      ),
      '',
    );
  }

  const scenarios: [string, string, string, boolean][] = [
    ['bytes', 'Bytes into a loopback socket', 'msgs/s', true],
    ['objects', 'Objects into arrays of up to 1000', 'items/s', false],
  ];
  for (const [scenario, heading, unit, bytes] of scenarios) {
    const rows = input.rows.filter((row) => row.scenario === scenario);
    if (rows.length === 0) continue;
    out.push(`## ${heading}`, '');
    for (const group of uniqueInOrder(rows.map((row) => row.group))) {
      const groupRows = rows.filter((row) => row.group === group);
      out.push(
        blockSection(
          groupRows,
          `${heading}: ${group}`,
          unit,
          input.baselineLabels[scenario] ?? 'baseline',
          bytes,
        ),
        '',
      );
    }
  }

  for (const memory of input.memory) out.push(memorySection(memory), '');
  for (const section of input.extraSections) out.push(section, '');
  return `${out.join('\n').trimEnd()}\n`;
}
