/**
 * `npm run bench`: every scenario side by side in one run, each variant in a
 * fresh child process, repetitions interleaved, medians and ratios to the
 * baseline of the same run; Markdown, SVG and JSON under bench/results/.
 *
 *   npm run bench                      full run (~6 min), writes bench/results/latest.*
 *   npm run bench -- --quick           tiny workloads, 1 repetition, checks only
 *                                      that every variant delivered its data intact;
 *                                      writes bench/results/quick/ (gitignored)
 *   --only=bytes,objects,memory        run some scenarios (also an extra bench's name:
 *                                      workers, latency)
 *   --variants=cork,batching-writable  run some variants (ids; baselines are kept; also
 *                                      the latency variants, e.g. cargo-queue)
 *   --producers=256 --sizes=64         run some producer counts / message sizes
 *   --reps=N --duration=MS --warmup=MS override the repetitions and run lengths
 *   --try-lib=DIR[,DIR2…]              also run the mwsr variants against copies of
 *                                      lib/ (e.g. /tmp/mwsr-try), marked "[try NAME]"
 *   --profile                          instead of measuring, profile (node --cpu-prof)
 *                                      BatchingWritable bytes 64 B × 256 and
 *                                      AsyncBatchStream objects × 256 (or the
 *                                      --variants= given), summary in
 *                                      bench/results/profiles/summary.md
 *   --instructions [--messages=N]      instead of timing, count instructions per message
 *                                      under callgrind (needs valgrind): bytes variants
 *                                      (--variants=, one --producers= and --sizes=;
 *                                      default all but socket.write, 256 × 64 B), runs
 *                                      of N and 3N messages (default 1,000,000), and
 *                                      --try-lib copies beside them;
 *                                      writes bench/results/instructions.md
 *   --shapes=fresh,reused              the producer shapes --instructions counts (default
 *                                      both): fresh messages from callback producers, or
 *                                      async producers writing one reused buffer each
 *   --out=DIR                          where to write the results
 *   --note=TEXT                        a line for the report's notes (machine state)
 *
 * Speed targets are reported PASS/FAIL and never fail the process; lost or
 * corrupted data does (exit 1), in every mode.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { BYTE_VARIANTS, BYTES_BASELINE, type VariantInfo } from './scenarios/bytes';
import { FLAT_TOLERANCE_BYTES, FULL_MEMORY_PLAN, QUICK_MEMORY_PLAN, heapGrowth } from './scenarios/memory';
import { OBJECT_VARIANTS, OBJECTS_BASELINE } from './scenarios/objects';
import { buildBench, PROJECT_ROOT, type Build } from './support/build';
import { failedResult, type Job, type RunResult } from './support/jobs';
import { describeMachine, finishMachine } from './support/machine';
import { renderMarkdown } from './support/markdown';
import { COUNTED_SHAPES, countInstructions, DEFAULT_COUNTED } from './support/instructions';
import { type ChildLauncher, DEFAULT_PROFILED, profileCases } from './support/profile';
import { formatCount, formatMB, formatRatio } from './support/stats';
import {
  applyBaselines,
  caseKey,
  evaluateTarget,
  findRow,
  summarize,
  type CaseSpec,
  type ScenarioName,
  type SummaryRow,
  type TargetResult,
} from './support/summary';
import { renderChart, type ChartPanel } from './support/svg';
import { runWorkersBench } from './scenarios/workers';
import { latencyChart, runLatencyBench } from './scenarios/latency';
import { runConcurrencyBench } from './scenarios/concurrency';
import { updateReadmeFigures } from '../scripts/render-readme-bench';

// ---- Extra benches -----------------------------------------------------------

export interface ExtraBenchOptions {
  quick: boolean;
  reps: number;
  /** How long each run writes (`--duration`). */
  durationMs: number;
  /** Where this run writes its results; an extra bench may add its own files there. */
  outDir: string;
  /** The compiled bench and library, for benches that start their own children. */
  build: Build;
  /** One line on the machine and date, for charts. */
  subtitle: string;
  /** `--variants=`: the ids to run (null: all). */
  variants: Set<string> | null;
}

export interface ExtraBenchReport {
  /** A Markdown section (starting with a `## ` heading) for the report. */
  markdown: string;
  /** False if data was lost or corrupted: the bench then exits non-zero. */
  ok: boolean;
  /** Anything worth keeping in latest.json. */
  data?: unknown;
}

export interface ExtraBench {
  /** Also the name `--only=` selects it by. */
  name: string;
  run(options: ExtraBenchOptions): Promise<ExtraBenchReport>;
}

/**
 * Benches kept in their own files, run after the scenarios and reported as
 * their own sections.
 */
const EXTRA_BENCHES: ExtraBench[] = [
  {
    name: 'workers',
    run: ({ quick, reps, durationMs }) => runWorkersBench({ quick, reps, durationMs }),
  },
  {
    name: 'latency',
    async run({ quick, build, outDir, subtitle, variants }) {
      const report = await runLatencyBench({ quick, build, variants });
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, 'latency.svg'), latencyChart(report.data, subtitle));
      return report;
    },
  },
  {
    name: 'concurrency',
    run: ({ quick, reps, durationMs }) => runConcurrencyBench({ quick, reps, durationMs }),
  },
];

// ---- Options ---------------------------------------------------------------

interface Options {
  quick: boolean;
  only: Set<string> | null;
  variants: Set<string> | null;
  producers: Set<string> | null;
  sizes: Set<string> | null;
  reps: number;
  durationMs: number;
  warmupMs: number;
  tryLibs: string[];
  profile: boolean;
  /** Count instructions per message under callgrind instead of timing. */
  instructions: boolean;
  /** N for --instructions: runs of N and 3N messages. */
  messages: number;
  /** The producer shapes --instructions counts (COUNTED_SHAPES names). */
  shapes: string[];
  outDir: string;
  notes: string[];
}

function parseOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const prefix = `--${name}=`;
    return argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
  };
  const list = (name: string): Set<string> | null => {
    const text = value(name);
    return text === undefined
      ? null
      : new Set(
          text
            .split(',')
            .map((item) => item.trim())
            .filter(Boolean),
        );
  };
  const known =
    /^--(quick|profile|instructions|messages=|shapes=|only=|variants=|producers=|sizes=|reps=|duration=|warmup=|try-lib=|out=|note=)/;
  for (const arg of argv) if (!known.test(arg)) throw new Error(`unknown argument ${arg}`);
  const shapes = [...(list('shapes') ?? COUNTED_SHAPES.map((shape) => shape.name))];
  for (const shape of shapes) {
    if (!COUNTED_SHAPES.some((known) => known.name === shape)) throw new Error(`unknown shape ${shape}`);
  }
  const quick = argv.includes('--quick');
  const profile = argv.includes('--profile');
  const number = (name: string, fallback: number): number => {
    const text = value(name);
    const parsed = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} needs a number`);
    return parsed;
  };
  return {
    quick,
    only: list('only'),
    variants: list('variants'),
    producers: list('producers'),
    sizes: list('sizes'),
    reps: Math.max(1, Math.round(number('reps', quick || profile ? 1 : 5))),
    durationMs: number('duration', profile ? 3000 : 1000),
    warmupMs: number('warmup', quick ? 0 : 150),
    tryLibs: [...(list('try-lib') ?? [])],
    profile,
    instructions: argv.includes('--instructions'),
    messages: Math.max(1, Math.round(number('messages', 1_000_000))),
    shapes,
    outDir:
      value('out') ?? join(PROJECT_ROOT, 'bench', 'results', quick ? 'quick' : profile ? 'profiles' : ''),
    notes: argv.filter((arg) => arg.startsWith('--note=')).map((arg) => arg.slice('--note='.length)),
  };
}

// ---- Cases -----------------------------------------------------------------

/** Quick mode: a few thousand messages per run, no time limit. */
const QUICK_BYTES_MESSAGES = 3000;
const QUICK_OBJECT_ITEMS = 20_000;
const BYTE_SIZES = [64, 512];
const BYTE_PRODUCERS = [1, 16, 256];
const OBJECT_PRODUCERS = [1, 256];
/** The blocks of the async producer shape (see AsyncProducers). */
const ASYNC_BYTES_GROUP = '64 B, async producers';
const ASYNC_OBJECTS_GROUP = 'objects, async producers';
/** Objects variants run in the async shape: ours, the minimal Transform, and the baseline. */
const ASYNC_OBJECT_VARIANTS = new Set(['array-loop', 'transform', 'async-batch-stream', 'batching-writable']);

interface PlannedCase {
  spec: CaseSpec;
  job: Job;
}

function selectedVariants(
  variants: readonly VariantInfo[],
  baseline: string,
  options: Options,
  build: Build,
): VariantInfo[] {
  const chosen = variants.filter(
    (variant) => options.variants === null || options.variants.has(variant.id) || variant.id === baseline,
  );
  const tries = build.tryLibs.flatMap((tryLib, index) =>
    chosen
      .filter((variant) => variant.usesLib)
      .map((variant) => ({
        ...variant,
        id: `${variant.id}+try${index + 1}`,
        label: `${variant.label} [try ${tryLib.name}]`,
      })),
  );
  return [...chosen, ...tries];
}

function libDirFor(variantId: string, build: Build): string {
  const match = /\+try(\d+)$/.exec(variantId);
  return match === null ? build.libDir : build.tryLibs[Number(match[1]) - 1].dir;
}

function baseVariant(variantId: string): string {
  return variantId.replace(/\+try\d+$/, '');
}

function wants(options: Options, scenario: string): boolean {
  return options.only === null || options.only.has(scenario);
}

function planCases(options: Options, build: Build, port: number): PlannedCase[] {
  const planned: PlannedCase[] = [];
  const budget = options.quick
    ? { durationMs: 30_000, warmupMs: 0 }
    : { durationMs: options.durationMs, warmupMs: options.warmupMs };
  if (wants(options, 'bytes')) {
    for (const messageSize of BYTE_SIZES.filter((size) => options.sizes?.has(String(size)) ?? true)) {
      for (const producers of BYTE_PRODUCERS.filter(
        (count) => options.producers?.has(String(count)) ?? true,
      )) {
        for (const variant of selectedVariants(BYTE_VARIANTS, BYTES_BASELINE, options, build)) {
          planned.push({
            spec: {
              scenario: 'bytes',
              group: `${messageSize} B`,
              producers,
              variant: variant.id,
              label: variant.label,
            },
            job: {
              scenario: 'bytes',
              variant: baseVariant(variant.id),
              producers,
              messageSize,
              port,
              libDir: libDirFor(variant.id, build),
              ...budget,
              maxMessages: options.quick ? QUICK_BYTES_MESSAGES : Infinity,
            },
          });
        }
      }
    }
  }
  // The async shape: 64 B × 256 producers, each an async function awaiting
  // once per message and writing one reused buffer.
  if (
    wants(options, 'bytes') &&
    (options.sizes?.has('64') ?? true) &&
    (options.producers?.has('256') ?? true)
  ) {
    for (const variant of selectedVariants(BYTE_VARIANTS, BYTES_BASELINE, options, build)) {
      planned.push({
        spec: {
          scenario: 'bytes',
          group: ASYNC_BYTES_GROUP,
          producers: 256,
          variant: variant.id,
          label: variant.label,
        },
        job: {
          scenario: 'bytes',
          shape: 'async',
          variant: baseVariant(variant.id),
          producers: 256,
          messageSize: 64,
          port,
          libDir: libDirFor(variant.id, build),
          ...budget,
          maxMessages: options.quick ? QUICK_BYTES_MESSAGES : Infinity,
        },
      });
    }
  }
  if (wants(options, 'objects') && (options.producers?.has('256') ?? true)) {
    for (const variant of selectedVariants(OBJECT_VARIANTS, OBJECTS_BASELINE, options, build)) {
      if (!ASYNC_OBJECT_VARIANTS.has(baseVariant(variant.id))) continue;
      planned.push({
        spec: {
          scenario: 'objects',
          group: ASYNC_OBJECTS_GROUP,
          producers: 256,
          variant: variant.id,
          label: variant.label,
        },
        job: {
          scenario: 'objects',
          shape: 'async',
          variant: baseVariant(variant.id),
          producers: 256,
          libDir: libDirFor(variant.id, build),
          ...budget,
          maxMessages: options.quick ? QUICK_OBJECT_ITEMS : Infinity,
        },
      });
    }
  }
  if (wants(options, 'objects')) {
    for (const producers of OBJECT_PRODUCERS.filter(
      (count) => options.producers?.has(String(count)) ?? true,
    )) {
      for (const variant of selectedVariants(OBJECT_VARIANTS, OBJECTS_BASELINE, options, build)) {
        planned.push({
          spec: {
            scenario: 'objects',
            group: 'objects',
            producers,
            variant: variant.id,
            label: variant.label,
          },
          job: {
            scenario: 'objects',
            variant: baseVariant(variant.id),
            producers,
            libDir: libDirFor(variant.id, build),
            ...budget,
            maxMessages: options.quick ? QUICK_OBJECT_ITEMS : Infinity,
          },
        });
      }
    }
  }
  if (wants(options, 'memory')) {
    const plan = options.quick ? QUICK_MEMORY_PLAN : FULL_MEMORY_PLAN;
    const variants = [
      { id: 'batching-writable', label: 'BatchingWritable' },
      ...build.tryLibs.map((tryLib, index) => ({
        id: `batching-writable+try${index + 1}`,
        label: `BatchingWritable [try ${tryLib.name}]`,
      })),
    ];
    for (const { id: variant, label } of variants) {
      planned.push({
        spec: {
          scenario: 'memory',
          group: `${plan.messageSize} B`,
          producers: plan.producers,
          variant,
          label,
        },
        job: {
          scenario: 'memory',
          variant: baseVariant(variant),
          producers: plan.producers,
          messageSize: plan.messageSize,
          port,
          libDir: libDirFor(variant, build),
          durationMs: Infinity,
          maxMessages: plan.messages,
          warmupMs: 0,
          checkpoints: plan.checkpoints,
        },
      });
    }
  }
  return planned;
}

// ---- Processes -------------------------------------------------------------

/**
 * Runs one job in a fresh child and resolves, after the child exited, with its
 * result. A `launcher` starts node through another program (valgrind) and
 * takes the child's stderr.
 */
export function runInChild(
  build: Build,
  job: Job,
  execArgv: string[],
  timeoutMs: number,
  launcher?: ChildLauncher,
): Promise<RunResult> {
  const nodeArgs = ['--expose-gc', ...execArgv];
  const child = fork(build.childScript, [], {
    execPath: launcher?.execPath ?? process.execPath,
    execArgv: launcher === undefined ? nodeArgs : [...launcher.args, process.execPath, ...nodeArgs],
    serialization: 'advanced', // structured clone: Infinity survives
    stdio: ['ignore', 'inherit', launcher === undefined ? 'inherit' : 'pipe', 'ipc'],
  });
  child.stderr?.on('data', (piece: Buffer) => launcher?.onStderr(piece.toString()));
  return new Promise((resolve) => {
    let result: RunResult | null = null;
    const timer = setTimeout(() => {
      result ??= failedResult(`timed out after ${timeoutMs} ms`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('message', (message: RunResult) => {
      result ??= message;
    });
    child.once('error', (error) => {
      result ??= failedResult(error.message);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(result ?? failedResult(`child exited with ${code ?? signal} before reporting`));
    });
    child.send(job);
  });
}

async function startServer(build: Build): Promise<{ process: ChildProcess; port: number }> {
  const server = fork(build.serverScript, [], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await once(server, 'message')) as [{ port: number }];
  return { process: server, port: message.port };
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = once(server, 'exit');
  server.disconnect();
  const timer = setTimeout(() => server.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function timeoutFor(job: Job, quick: boolean): number {
  if (job.scenario === 'memory') return quick ? 60_000 : 300_000;
  return (
    (Number.isFinite(job.durationMs) && !quick ? job.durationMs : 0) +
    job.warmupMs +
    (quick ? 30_000 : 90_000)
  );
}

// ---- Measuring ---------------------------------------------------------------

function blockKey(spec: CaseSpec): string {
  return `${spec.scenario}|${spec.group}|${spec.producers}`;
}

function describeRun(spec: CaseSpec, result: RunResult): string {
  const unit = spec.scenario === 'objects' ? 'items/s' : 'msgs/s';
  if (!result.ok) return `FAILED: ${result.error ?? 'unknown'}`;
  const rate = formatCount((result.messages / result.elapsedMs) * 1000);
  return `${rate} ${unit}, peak heap ${formatMB(result.peakHeap)} MB`;
}

/**
 * Repetitions are interleaved within each block (same scenario, group and
 * producer count), and the variant order rotates each repetition: a slow
 * spell on the shared machine hits every variant of a block alike.
 */
async function measure(
  cases: PlannedCase[],
  options: Options,
  build: Build,
): Promise<Map<string, RunResult[]>> {
  const results = new Map<string, RunResult[]>();
  const blocks = new Map<string, PlannedCase[]>();
  for (const planned of cases) {
    const key = blockKey(planned.spec);
    blocks.set(key, [...(blocks.get(key) ?? []), planned]);
  }
  const total = cases.length * options.reps;
  let done = 0;
  for (const block of blocks.values()) {
    const reps = block[0].spec.scenario === 'memory' ? 1 : options.reps;
    for (let rep = 0; rep < reps; rep++) {
      for (let i = 0; i < block.length; i++) {
        const planned = block[(i + rep) % block.length];
        const result = await runInChild(build, planned.job, [], timeoutFor(planned.job, options.quick));
        const key = caseKey(planned.spec);
        results.set(key, [...(results.get(key) ?? []), result]);
        done++;
        const { spec } = planned;
        process.stderr.write(
          `[${done}/${total}] ${spec.scenario} ${spec.group} ×${spec.producers} ${spec.label} ` +
            `rep ${rep + 1}: ${describeRun(spec, result)}\n`,
        );
      }
    }
  }
  return results;
}

// ---- Targets -----------------------------------------------------------------

function bytesTargets(rows: SummaryRow[]): TargetResult[] {
  return ['64 B', ASYNC_BYTES_GROUP].flatMap((group) => bytesGroupTargets(rows, group));
}

function bytesGroupTargets(rows: SummaryRow[], group: string): TargetResult[] {
  const targets: TargetResult[] = [];
  const row = (variant: string): SummaryRow | undefined => findRow(rows, 'bytes', group, 256, variant);
  const rate = (variant: string): number => {
    const found = row(variant);
    return found !== undefined && found.intact === found.runs ? found.rate : NaN;
  };
  const ours = [...new Set(rows.map((row) => row.variant))].filter((variant) =>
    /^(batching-writable|async-batch-stream)(\+try\d+)?$/.test(variant),
  );
  const bounds: [string, number][] = [
    ['hand-rolled', 0.9],
    ['cork', 1.2],
    ['bulk-write-stream', 1.2],
    ['socket-write', 15],
  ];
  for (const variant of ours) {
    const mine = row(variant);
    if (mine === undefined) continue;
    for (const [other, min] of bounds) {
      const label = BYTE_VARIANTS.find((candidate) => candidate.id === other)?.label ?? other;
      targets.push(
        evaluateTarget(`Bytes ${group} ×256: ${mine.label} / ${label}`, rate(variant) / rate(other), { min }),
      );
    }
  }
  return targets;
}

function objectsTargets(rows: SummaryRow[]): TargetResult[] {
  const targets: TargetResult[] = [];
  const row = (variant: string): SummaryRow | undefined => findRow(rows, 'objects', 'objects', 256, variant);
  const intact = (found: SummaryRow | undefined): SummaryRow | undefined =>
    found !== undefined && found.intact === found.runs ? found : undefined;
  const ours = [...new Set(rows.map((row) => row.variant))].filter((variant) =>
    /^async-batch-stream(\+try\d+)?$/.test(variant),
  );
  for (const variant of ours) {
    const mine = row(variant);
    if (mine === undefined) continue;
    const ok = intact(mine);
    const ratioTo = (other: string): number => (ok?.rate ?? NaN) / (intact(row(other))?.rate ?? NaN);
    targets.push(
      evaluateTarget(`Objects ×256: ${mine.label} / minimal Transform`, ratioTo('transform'), { min: 0.9 }),
    );
    targets.push(
      evaluateTarget(`Objects ×256: ${mine.label} / through2-batch`, ratioTo('through2-batch'), { min: 5 }),
    );
    targets.push(
      evaluateTarget(
        `Objects ×256: ${mine.label} peak heap / array loop's`,
        (ok?.peakHeap ?? NaN) / (intact(row('array-loop'))?.peakHeap ?? NaN),
        { max: 2 },
      ),
    );
  }
  const asyncRow = (variant: string): SummaryRow | undefined =>
    intact(findRow(rows, 'objects', ASYNC_OBJECTS_GROUP, 256, variant));
  for (const variant of ours) {
    const mine = asyncRow(variant);
    if (mine === undefined && findRow(rows, 'objects', ASYNC_OBJECTS_GROUP, 256, variant) === undefined)
      continue;
    targets.push(
      evaluateTarget(
        `Objects ${ASYNC_OBJECTS_GROUP} ×256: ${mine?.label ?? variant} / minimal Transform`,
        (mine?.rate ?? NaN) / (asyncRow('transform')?.rate ?? NaN),
        { min: 1.0 },
      ),
    );
  }
  return targets;
}

// ---- Reporting ---------------------------------------------------------------

/** mwsr's own variants keep one colour in every panel; the others take the palette's. */
const VARIANT_COLORS: Record<string, string> = {
  'batching-writable': '#2e9d6e',
  'async-batch-stream': '#d6455a',
  'batching-writable+try1': '#8fd1b4',
  'async-batch-stream+try1': '#eb9aa5',
};
const OTHER_COLORS = ['#9e9e9e', '#f2a93b', '#5a8fd6', '#b07cc6', '#7a5230', '#2bb0c0', '#e377c2', '#6b6b6b'];

function chartPanels(rows: SummaryRow[]): ChartPanel[] {
  const panels: ChartPanel[] = [];
  const blocks: [ScenarioName, string, string, string][] = [
    ['bytes', '64 B', 'Bytes into a loopback socket, 64-byte messages', 'M msgs/s'],
    ['bytes', '512 B', 'Bytes into a loopback socket, 512-byte messages', 'M msgs/s'],
    ['bytes', ASYNC_BYTES_GROUP, 'Bytes, 64 B, async producers writing one reused buffer', 'M msgs/s'],
    ['objects', 'objects', 'Objects into arrays of up to 1000', 'M items/s'],
    ['objects', ASYNC_OBJECTS_GROUP, 'Objects, async producers', 'M items/s'],
  ];
  for (const [scenario, group, title, unit] of blocks) {
    const blockRows = rows.filter((row) => row.scenario === scenario && row.group === group);
    if (blockRows.length === 0) continue;
    const producerCounts = [...new Set(blockRows.map((row) => row.producers))].sort((a, b) => a - b);
    const variants = [...new Set(blockRows.map((row) => row.variant))];
    panels.push({
      title,
      unit,
      clusters: producerCounts.map((count) => `${count} producer${count === 1 ? '' : 's'}`),
      series: variants.map((variant, index) => ({
        label: blockRows.find((row) => row.variant === variant)?.label ?? variant,
        color: VARIANT_COLORS[variant] ?? OTHER_COLORS[index % OTHER_COLORS.length],
        values: producerCounts.map((count) => {
          const row = blockRows.find(
            (candidate) => candidate.variant === variant && candidate.producers === count,
          );
          return row === undefined || row.intact < row.runs ? NaN : row.rate / 1e6;
        }),
      })),
    });
  }
  return panels;
}

function printTargets(targets: TargetResult[]): void {
  for (const target of targets) {
    const bound = 'min' in target.bound ? `>= ${target.bound.min}` : `<= ${target.bound.max}`;
    const verdict = target.missing ? 'n/a ' : target.pass ? 'PASS' : 'FAIL';
    process.stdout.write(`${verdict}  ${target.description}: ${formatRatio(target.measured)} (${bound})\n`);
  }
}

// ---- Main --------------------------------------------------------------------

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const machine = describeMachine(PROJECT_ROOT);
  const started = performance.now();
  const build = buildBench(options.tryLibs);
  const server = await startServer(build);
  try {
    if (options.profile) {
      const pick = (ids: readonly { id: string }[], fallback: string[]): string[] => {
        const chosen = ids.map((variant) => variant.id).filter((id) => options.variants?.has(id) ?? false);
        return options.variants === null ? fallback : chosen;
      };
      const variants = {
        bytes: wants(options, 'bytes') ? pick(BYTE_VARIANTS, DEFAULT_PROFILED.bytes) : [],
        objects: wants(options, 'objects') ? pick(OBJECT_VARIANTS, DEFAULT_PROFILED.objects) : [],
      };
      return await profileCases(build, server.port, options.outDir, options.durationMs, variants, runInChild);
    }
    if (options.instructions) {
      const first = (set: Set<string> | null, fallback: number): number =>
        set === null ? fallback : Number([...set][0]);
      const variants = options.variants === null ? DEFAULT_COUNTED : [...options.variants];
      const countOptions = {
        variants,
        shapes: options.shapes,
        producers: first(options.producers, 256),
        messageSize: first(options.sizes, 64),
        messages: options.messages,
        outDir: options.outDir,
      };
      return await countInstructions(build, server.port, countOptions, runInChild);
    }
    const cases = planCases(options, build, server.port);
    const results = await measure(cases, options, build);
    const rows = cases
      .filter((planned) => planned.spec.scenario !== 'memory')
      .map((planned) => summarize(planned.spec, results.get(caseKey(planned.spec)) ?? []));
    applyBaselines(rows, { bytes: BYTES_BASELINE, objects: OBJECTS_BASELINE });
    const targets = [...bytesTargets(rows), ...objectsTargets(rows)];

    const memoryCases = cases.filter((planned) => planned.spec.scenario === 'memory');
    const memoryRows = memoryCases.map((planned) =>
      summarize(planned.spec, results.get(caseKey(planned.spec)) ?? []),
    );
    const memory = memoryRows.map((row) => ({
      row,
      growth: row.results[0] === undefined ? NaN : heapGrowth(row.results[0]),
      tolerance: FLAT_TOLERANCE_BYTES,
    }));

    const extraSections: string[] = [];
    const extraData: Record<string, unknown> = {};
    let extrasOk = true;
    for (const extra of EXTRA_BENCHES) {
      if (!wants(options, extra.name)) continue;
      const report = await extra.run({
        quick: options.quick,
        reps: options.reps,
        durationMs: options.durationMs,
        outDir: options.outDir,
        build,
        variants: options.variants,
        subtitle: `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}`,
      });
      extraSections.push(report.markdown);
      extraData[extra.name] = report.data;
      extrasOk &&= report.ok;
    }

    finishMachine(machine);
    const minutes = ((performance.now() - started) / 60_000).toFixed(1);
    const settings = options.quick
      ? `Quick mode: ${QUICK_BYTES_MESSAGES} messages / ${QUICK_OBJECT_ITEMS} items per run, 1 repetition: a check that every variant delivers its data intact; the speeds mean nothing. Took ${minutes} min.`
      : `${options.reps} repetitions per variant, each in a fresh process: ${options.warmupMs} ms warm-up, then ${options.durationMs} ms of writing; medians shown. Took ${minutes} min.`;
    const markdown = renderMarkdown({
      title: options.quick ? 'mwsr bench (quick mode)' : 'mwsr bench',
      machine,
      settings,
      notes: [
        ...options.notes,
        'Producers are callbacks that write until `write()` returns false, then wait for `drain`; default highWaterMarks (16 KiB, 16 objects). Bytes: each message is a fresh Buffer; the server, a separate process, checks every message (producer, sequence, trailer). Objects: `{p, s}` items, every batch checked in order.',
        'Blocks marked “async producers”: each producer is an async function that awaits once per message (the drain after a false `write()`, else a settled value), as request handlers write; for bytes each producer writes one reused buffer (the server counts those per producer and checks producer, alignment and trailer), so what is measured is the stream’s own cost. “stalls/1k” = producer writes that returned false per 1000 messages.',
        'Socket writes per message, two counts: “msgs/write” is messages per `_write`/`_writev` call the socket received (one libuv write request each); “msgs/syscall” is messages per write-class system call of the client process over the run (`syscw` of /proc/self/io: write and writev, partial writes and IOV_MAX splits of a long writev included; nothing else in the process writes meanwhile).',
        'Ratios are medians over medians of the same run; “spread” is half the range of the repetitions over the median. The machine is shared: compare ratios, not absolute rates, across runs.',
      ],
      rows,
      targets,
      baselineLabels: { bytes: 'hand-rolled', objects: 'array loop' },
      memory,
      extraSections,
    });
    const svg = renderChart(
      options.quick
        ? 'mwsr bench (quick mode: not a measurement)'
        : 'mwsr bench: throughput per variant and producer count',
      `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}; medians of ${options.reps}`,
      chartPanels(rows),
    );

    mkdirSync(options.outDir, { recursive: true });
    writeFileSync(join(options.outDir, 'latest.md'), markdown);
    writeFileSync(join(options.outDir, 'latest.svg'), svg);
    writeFileSync(
      join(options.outDir, 'latest.json'),
      `${JSON.stringify(
        {
          machine,
          quick: options.quick,
          reps: options.reps,
          durationMs: options.durationMs,
          warmupMs: options.warmupMs,
          rows,
          targets,
          memory,
          extras: extraData,
        },
        (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
        2,
      )}\n`,
    );

    process.stdout.write(`\n${markdown}\n`);
    printTargets(targets);
    for (const entry of memory) {
      const growth = entry.growth;
      process.stdout.write(
        `${Number.isFinite(growth) && growth < entry.tolerance ? 'PASS' : 'FAIL'}  Memory: ${entry.row.label} live heap growth ${formatMB(growth)} MB (< ${formatMB(entry.tolerance)} MB)\n`,
      );
    }
    process.stdout.write(`Results: ${options.outDir}/latest.{md,svg,json}\n`);
    if (!options.quick && resolvePath(options.outDir) === resolvePath(PROJECT_ROOT, 'bench', 'results')) {
      // The README shows the figures of the last full run (npm run docs:bench).
      try {
        const changed = updateReadmeFigures();
        process.stdout.write(
          `README.md figures ${changed ? 'rewritten from' : 'already match'} latest.json\n`,
        );
      } catch (error) {
        process.stdout.write(`README.md figures not rewritten: ${(error as Error).message}\n`);
      }
    }

    const broken = [...rows, ...memoryRows].filter((row) => row.intact < row.runs || row.runs === 0);
    for (const row of broken) {
      process.stderr.write(
        `DATA CHECK FAILED: ${row.scenario} ${row.group} ×${row.producers} ${row.label}: ${row.errors.join('; ')}\n`,
      );
    }
    return broken.length === 0 && extrasOk ? 0 : 1;
  } finally {
    await stopServer(server.process);
    build.remove();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
