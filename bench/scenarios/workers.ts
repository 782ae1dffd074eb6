/**
 * Worker-threads bench: 1, 2 and 4 writer threads each writing 64-byte
 * messages (each a fresh Buffer) as fast as they can for a fixed time, one
 * reader (the main thread) receiving them, in one run:
 *
 *   mwsr write()        WorkerWritable per thread, one write() per message
 *   mwsr cork ×256      cork(), 256 write()s, uncork()
 *   mwsr reserve ×256   each message built in place with reserve(), commit()
 *                       once per 256 (no allocation, no copy)
 *   postMessage ×1      one parentPort.postMessage(message) per message
 *   postMessage ×256    one postMessage of an array of 256 messages
 *   transfer ×256       the baseline: 256 messages copied into one 16 KiB
 *                       buffer, posted with its ArrayBuffer transferred
 *
 * Reported per case: messages/s delivered end to end (from the start signal
 * to the last message read), the paired ratio to the baseline (each
 * repetition's rate over the baseline's in the same repetition and writer
 * count: median, min–max), CPU per message of the reader thread and of the
 * writer threads (from /proc/thread-self/schedstat, so each thread's own),
 * messages per batch the reader received, the cores the threads kept busy
 * (their CPU time over the elapsed time), the peak backlog (messages written
 * and not yet read) and the process's RSS growth. postMessage has no
 * backpressure, so its queue (and RSS) grows while the reader lags; mwsr's
 * rings bound the backlog (256 KiB per writer, the default).
 *
 * Each case runs in a fresh child process (compiled JavaScript, no ts-node),
 * repetitions interleaved with the variant order rotated, medians reported.
 * Every message carries its writer and sequence number; the reader checks
 * per-writer order and count, and `ok` is false if any case lost or
 * reordered data.
 *
 *   npx ts-node bench/scenarios/workers.ts [--quick] [--reps=N] [--duration=MS]
 *   npm run bench -- --only=workers [--reps=N] [--duration=MS]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { WorkerChannel, WorkerWritable, type WorkerWriterHandle } from '../../lib/index';
import { median, PROJECT_ROOT } from '../../tools/support';

const MESSAGE_BYTES = 64;
const GROUP = 256;
const WRITER_COUNTS = [1, 2, 4];
const WORKER_ROLE = 'mwsr-workers-bench-writer';

type Variant = 'mwsr' | 'mwsrCork' | 'mwsrReserve' | 'post1' | 'post256' | 'post256transfer';
const VARIANTS: readonly Variant[] = [
  'post256transfer',
  'mwsr',
  'mwsrCork',
  'mwsrReserve',
  'post1',
  'post256',
];
/** What every other variant is compared with: what a user writes by hand in twenty lines. */
const BASELINE: Variant = 'post256transfer';
const VARIANT_NAMES: Record<Variant, string> = {
  mwsr: 'mwsr write()',
  mwsrCork: 'mwsr cork() ×256',
  mwsrReserve: 'mwsr reserve() ×256, commit()',
  post1: 'postMessage ×1',
  post256: 'postMessage ×256 (array)',
  post256transfer: 'transfer ×256 (baseline)',
};
/** Speed targets: ratio to the baseline, at every writer count (reported, never fail the run). */
const TARGETS: Partial<Record<Variant, number>> = { mwsr: 0.8, mwsrCork: 1.0, mwsrReserve: 1.5 };

const SCHEDSTAT = '/proc/thread-self/schedstat';

/** This thread's CPU time in nanoseconds (Linux), or NaN where the kernel does not say. */
function threadCpuNanos(): number {
  if (!existsSync(SCHEDSTAT)) return NaN;
  return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]);
}

interface CaseConfig {
  variant: Variant;
  writers: number;
  durationMs: number;
}

interface CaseResult {
  messages: number;
  /** Batches (mwsr) or 'message' events (postMessage) the reader received. */
  batches: number;
  /** CPU of the reader thread, and of all writer threads, from the start signal. */
  readerCpuNanos: number;
  writerCpuNanos: number;
  /** Most messages written (sent, or accepted by write()) and not yet read, sampled every 20 ms. */
  peakBacklog: number;
  elapsedMs: number;
  cpuMicros: number;
  peakRss: number;
  baseRss: number;
  ok: boolean;
  problem: string;
}

interface WriterData {
  role: typeof WORKER_ROLE;
  variant: Variant;
  id: number;
  durationMs: number;
  handle: WorkerWriterHandle | null;
  /** Int32Array over this: [0] = messages this writer has sent so far (every GROUP). */
  progress: SharedArrayBuffer;
}

// ---- Writer thread ------------------------------------------------------------

/** One 64-byte message: writer id, sequence number, filler. */
function makeMessage(writer: number, seq: number): Buffer {
  // Its own ArrayBuffer: posting a pooled Buffer would clone the whole 8 KiB pool.
  const message = Buffer.allocUnsafeSlow(MESSAGE_BYTES);
  message.writeUInt32LE(writer, 0);
  message.writeUInt32LE(seq, 4);
  message.fill(seq & 0xff, 8);
  return message;
}

async function runWriter(data: WriterData): Promise<void> {
  const port = parentPort!;
  const progress = new Int32Array(data.progress);
  const go = new Promise<void>((resolve) => port.once('message', () => resolve()));
  let out: WorkerWritable | null = null;
  if (data.handle !== null) out = new WorkerWritable(data.handle);
  port.postMessage('ready');
  await go;
  const cpuStart = threadCpuNanos();
  const deadline = performance.now() + data.durationMs;
  let seq = 0;
  if (out !== null && data.variant === 'mwsr') {
    while (performance.now() < deadline) {
      for (let i = 0; i < GROUP; i++) {
        if (!out.write(makeMessage(data.id, seq++))) await once(out, 'drain');
      }
      Atomics.store(progress, 0, seq);
    }
  } else if (out !== null && data.variant === 'mwsrReserve') {
    while (performance.now() < deadline) {
      for (let i = 0; i < GROUP; i++) {
        let message = out.reserve(MESSAGE_BYTES);
        if (message === null) {
          out.commit();
          await once(out, 'drain');
          message = out.reserve(MESSAGE_BYTES)!;
        }
        // As makeMessage(), in place.
        message.writeUInt32LE(data.id, 0);
        message.writeUInt32LE(seq, 4);
        message.fill(seq & 0xff, 8);
        seq++;
      }
      out.commit();
      Atomics.store(progress, 0, seq);
    }
  } else if (out !== null) {
    while (performance.now() < deadline) {
      out.cork();
      for (let i = 0; i < GROUP - 1; i++) out.write(makeMessage(data.id, seq++));
      const more = out.write(makeMessage(data.id, seq++));
      out.uncork();
      // Decided after uncork(): only then are the corked writes placed, or held.
      if (!more || out.writableNeedDrain) await once(out, 'drain');
      Atomics.store(progress, 0, seq);
    }
  } else if (data.variant === 'post1') {
    while (performance.now() < deadline) {
      for (let i = 0; i < GROUP; i++) port.postMessage(makeMessage(data.id, seq++));
      Atomics.store(progress, 0, seq);
    }
  } else if (data.variant === 'post256') {
    while (performance.now() < deadline) {
      const group: Buffer[] = [];
      for (let i = 0; i < GROUP; i++) group.push(makeMessage(data.id, seq++));
      port.postMessage(group);
      Atomics.store(progress, 0, seq);
    }
  } else {
    while (performance.now() < deadline) {
      const batch = Buffer.allocUnsafeSlow(GROUP * MESSAGE_BYTES);
      for (let i = 0; i < GROUP; i++) batch.set(makeMessage(data.id, seq++), i * MESSAGE_BYTES);
      port.postMessage(batch, [batch.buffer]);
      Atomics.store(progress, 0, seq);
    }
  }
  if (out !== null) {
    out.end();
    await once(out, 'finish');
  }
  port.postMessage({ sent: seq, cpuNanos: threadCpuNanos() - cpuStart });
}

// ---- Reader (the child process's main thread) ----------------------------------

/** Checks per-writer order of the 64-byte messages in `bytes`. */
class Tally {
  messages = 0;
  batches = 0;
  problem = '';
  readonly #next: number[];

  constructor(writers: number) {
    this.#next = new Array<number>(writers).fill(0);
  }

  add(bytes: Uint8Array): void {
    this.batches++;
    this.addMessages(bytes);
  }

  /** Adds the messages of `bytes`, not counted as a batch of its own. */
  addMessages(bytes: Uint8Array): void {
    if (bytes.length % MESSAGE_BYTES !== 0) this.#fail(`a batch of ${bytes.length} bytes`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let offset = 0; offset + MESSAGE_BYTES <= bytes.length; offset += MESSAGE_BYTES) {
      const writer = view.getUint32(offset, true);
      const seq = view.getUint32(offset + 4, true);
      if (this.#next[writer] !== seq)
        this.#fail(`writer ${writer}: seq ${seq}, expected ${this.#next[writer]}`);
      this.#next[writer] = seq + 1;
      this.messages++;
    }
  }

  check(sent: readonly number[]): void {
    sent.forEach((count, writer) => {
      if (this.#next[writer] !== count)
        this.#fail(`writer ${writer}: received ${this.#next[writer]} of ${count}`);
    });
  }

  #fail(text: string): void {
    if (this.problem === '') this.problem = text;
  }
}

async function runCase(config: CaseConfig, script: string): Promise<CaseResult> {
  const { variant, writers } = config;
  const tally = new Tally(writers);
  const mwsr = variant.startsWith('mwsr');
  const channel = mwsr ? new WorkerChannel({ size: 16384 }) : null;
  const sent = new Array<number>(writers).fill(-1);
  const writerCpu = new Array<number>(writers).fill(0);
  const counters = Array.from({ length: writers }, () => new SharedArrayBuffer(4));
  const progress = counters.map((counter) => new Int32Array(counter));
  const workers: Worker[] = [];
  const exits: Promise<unknown>[] = [];
  const done: Promise<void>[] = [];
  for (let id = 0; id < writers; id++) {
    const handle = channel?.createWriter() ?? null;
    const data: WriterData = {
      role: WORKER_ROLE,
      variant,
      id,
      durationMs: config.durationMs,
      handle,
      progress: counters[id],
    };
    const worker = new Worker(script, {
      workerData: data,
      transferList: handle === null ? [] : [handle.port],
    });
    workers.push(worker);
    exits.push(once(worker, 'exit'));
    const ready = once(worker, 'message');
    done.push(
      ready.then(
        () =>
          new Promise<void>((resolve, reject) => {
            worker.on('error', reject);
            worker.on('message', (message: unknown) => {
              if (message instanceof Uint8Array) tally.add(message);
              else if (Array.isArray(message)) {
                tally.batches++;
                for (const item of message) tally.addMessages(item as Uint8Array);
              } else if (typeof message === 'object' && message !== null && 'sent' in message) {
                const report = message as { sent: number; cpuNanos: number };
                sent[id] = report.sent;
                writerCpu[id] = report.cpuNanos;
                resolve();
              }
            });
          }),
      ),
    );
    await ready;
  }
  const channelEnded = channel === null ? Promise.resolve() : once(channel, 'end');
  channel?.on('data', (batch: Buffer) => tally.add(batch));

  const baseRss = process.memoryUsage.rss();
  let peakRss = baseRss;
  let peakBacklog = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const written = progress.reduce((total, counter) => total + Atomics.load(counter, 0), 0);
    peakBacklog = Math.max(peakBacklog, written - tally.messages);
  }, 20);
  const cpuStart = process.cpuUsage();
  const readerCpuStart = threadCpuNanos();
  const start = performance.now();
  for (const worker of workers) worker.postMessage('go');
  await Promise.all(done);
  await channelEnded;
  const elapsedMs = performance.now() - start;
  const readerCpuNanos = threadCpuNanos() - readerCpuStart;
  const cpu = process.cpuUsage(cpuStart);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  await Promise.all(exits);
  tally.check(sent);
  return {
    messages: tally.messages,
    batches: tally.batches,
    readerCpuNanos,
    writerCpuNanos: writerCpu.reduce((a, b) => a + b, 0),
    peakBacklog,
    elapsedMs,
    cpuMicros: cpu.user + cpu.system,
    peakRss,
    baseRss,
    ok: tally.problem === '',
    problem: tally.problem,
  };
}

// ---- Orchestrator ---------------------------------------------------------------

/** Transpiles lib/, tools/support.ts and this file to JavaScript, so children and workers start without ts-node. */
function build(): { dir: string; script: string } {
  // Loaded here only: children and workers never need the compiler.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { transpileFile } = require('../../tools/transpile') as typeof import('../../tools/transpile');
  const dir = join(PROJECT_ROOT, 'node_modules', '.cache', 'mwsr-workers-bench', String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  const files = [
    ...['lib', join('lib', 'worker')].flatMap((folder) =>
      readdirSync(join(PROJECT_ROOT, folder))
        .filter((name) => name.endsWith('.ts'))
        .map((name) => join(folder, name)),
    ),
    join('tools', 'support.ts'),
    join('bench', 'scenarios', 'workers.ts'),
  ];
  for (const file of files) {
    transpileFile(join(PROJECT_ROOT, file), join(dir, file.replace(/\.ts$/, '.js')), file);
  }
  return { dir, script: join(dir, 'bench', 'scenarios', 'workers.js') };
}

async function runInChild(script: string, config: CaseConfig): Promise<CaseResult> {
  const child = fork(script, ['--child', JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const timer = setTimeout(() => child.kill(), config.durationMs * 20 + 30000);
  const results: CaseResult[] = [];
  child.on('message', (message) => results.push(message as CaseResult));
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (results.length === 0) {
    return {
      messages: 0,
      batches: 0,
      readerCpuNanos: 0,
      writerCpuNanos: 0,
      peakBacklog: 0,
      elapsedMs: 0,
      cpuMicros: 0,
      peakRss: 0,
      baseRss: 0,
      ok: false,
      problem: `child exited with ${code} and no result (did it hang?)`,
    };
  }
  return results[0];
}

function formatRate(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(0)} k`;
  return value.toFixed(0);
}

interface Row {
  writers: number;
  variant: Variant;
  rate: number;
  /** This variant's rate over the baseline's, paired by repetition: median, lowest, highest. */
  ratio: { median: number; min: number; max: number };
  readerNanos: number;
  writerNanos: number;
  perBatch: number;
  /** CPU of the reader and writer threads over the elapsed time: cores kept busy (of `cores`). */
  coresBusy: number;
  peakBacklog: number;
  growthMB: number;
}

/** What the workers bench measured, for latest.json. */
export interface WorkersBenchData {
  durationMs: number;
  reps: number;
  /** The machine's 1-minute load average when the run started (other processes compete for the cores). */
  loadAverage: number;
  rows: Row[];
}

function rateOf(result: CaseResult): number {
  return result.elapsedMs > 0 ? (result.messages / result.elapsedMs) * 1000 : 0;
}

function perMessage(nanos: number, result: CaseResult): number {
  return result.messages > 0 ? nanos / result.messages : NaN;
}

/**
 * Runs the worker-threads bench and returns its Markdown section; `ok` is
 * false if any case lost, repeated or reordered a message. `quick`: short
 * runs, one repetition (a correctness check, not a measurement); otherwise
 * `reps` repetitions of `durationMs` each (defaults 3 and 1000).
 */
export async function runWorkersBench(opts: {
  quick: boolean;
  reps?: number;
  durationMs?: number;
  /** Only these variants (and the baseline); default all. */
  variants?: readonly Variant[];
}): Promise<{ markdown: string; ok: boolean; data: WorkersBenchData }> {
  const variants =
    opts.variants === undefined
      ? VARIANTS
      : VARIANTS.filter((variant) => variant === BASELINE || opts.variants!.includes(variant));
  const durationMs = opts.quick ? 100 : (opts.durationMs ?? 1000);
  const reps = opts.quick ? 1 : Math.max(1, opts.reps ?? 3);
  // Quick mode checks each variant's data integrity, inside `npm test`: two
  // writers interleave; spec/worker-channel.spec.ts covers 1 to 8.
  const writerCounts = opts.quick ? [2] : WRITER_COUNTS;
  const loadAverage = loadavg()[0];
  const { dir, script } = build();
  const samples = new Map<string, CaseResult[]>();
  const problems: string[] = [];
  const started = performance.now();
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const writers of writerCounts) {
        // Rotated each repetition, so no variant always runs first (or right after another).
        for (let k = 0; k < variants.length; k++) {
          const variant = variants[(k + rep) % variants.length];
          const result = await runInChild(script, { variant, writers, durationMs });
          const key = `${writers}/${variant}`;
          samples.set(key, [...(samples.get(key) ?? []), result]);
          if (!result.ok) problems.push(`${VARIANT_NAMES[variant]}, ${writers} writer(s): ${result.problem}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);

  const rows: Row[] = [];
  for (const writers of writerCounts) {
    const baseline = samples.get(`${writers}/${BASELINE}`) ?? [];
    for (const variant of variants) {
      const runs = samples.get(`${writers}/${variant}`) ?? [];
      const ratios = runs.map((run, rep) => rateOf(run) / Math.max(1, rateOf(baseline[rep])));
      rows.push({
        writers,
        variant,
        rate: median(runs.map(rateOf)),
        ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
        readerNanos: median(runs.map((r) => perMessage(r.readerCpuNanos, r))),
        writerNanos: median(runs.map((r) => perMessage(r.writerCpuNanos, r))),
        perBatch: median(runs.map((r) => (r.batches > 0 ? r.messages / r.batches : 0))),
        coresBusy: median(
          runs.map((r) =>
            r.elapsedMs > 0 ? (r.readerCpuNanos + r.writerCpuNanos) / (r.elapsedMs * 1e6) : 0,
          ),
        ),
        peakBacklog: median(runs.map((r) => r.peakBacklog)),
        growthMB: median(runs.map((r) => (r.peakRss - r.baseRss) / 2 ** 20)),
      });
    }
  }
  const find = (writers: number, variant: Variant): Row =>
    rows.find((r) => r.writers === writers && r.variant === variant)!;

  const lines: string[] = [];
  lines.push(`## Worker threads: N writer threads → one reader, ${MESSAGE_BYTES}-byte messages`);
  lines.push('');
  lines.push(
    `Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ` +
      `load average ${loadAverage.toFixed(1)} at the start; ` +
      `each writer writes for ${durationMs} ms, then the reader drains; ${reps} repetition(s), ` +
      `variant order rotated, medians; took ${minutes} min` +
      (opts.quick ? ' (quick: a correctness check, not a measurement)' : '') +
      '. Rate = messages delivered per second, start signal to last message read. ' +
      '× baseline = rate over the baseline’s in the same repetition (median, min–max). ' +
      'CPU = each thread’s own CPU time per message delivered (reader; all writers together). ' +
      'Msgs/batch = messages per batch (mwsr) or per postMessage the reader received. ' +
      'Cores busy = reader and writer threads’ CPU time over the elapsed time: below the cores ' +
      'available, the threads spent the rest waiting (for each other, or for a core). ' +
      'Backlog = most messages written and not yet read (sampled every 20 ms). ' +
      'RSS growth = peak RSS minus RSS before the start (threads already running).',
  );
  lines.push('');
  lines.push(
    '| writers | variant | msgs/s | × baseline | reader CPU ns/msg | writers CPU ns/msg | msgs/batch | cores busy | peak backlog | RSS growth MB |',
  );
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const ordered = [BASELINE, ...variants.filter((variant) => variant !== BASELINE)];
  for (const writers of writerCounts) {
    for (const variant of ordered) {
      const row = find(writers, variant);
      const ratio =
        variant === BASELINE
          ? '1'
          : `${row.ratio.median.toFixed(2)}× (${row.ratio.min.toFixed(2)}–${row.ratio.max.toFixed(2)})`;
      lines.push(
        `| ${writers} | ${VARIANT_NAMES[variant]} | ${formatRate(row.rate)} | ${ratio} | ` +
          `${row.readerNanos.toFixed(0)} | ${row.writerNanos.toFixed(0)} | ${row.perBatch.toFixed(1)} | ` +
          `${row.coresBusy.toFixed(2)} | ` +
          `${formatRate(row.peakBacklog)} | ${row.growthMB.toFixed(1)} |`,
      );
    }
  }
  lines.push('');
  lines.push('Targets, paired ratios to the baseline (reported, never fail the run):');
  lines.push('');
  for (const [variant, target] of Object.entries(TARGETS) as [Variant, number][]) {
    if (!variants.includes(variant)) continue;
    const parts = writerCounts.map((writers) => {
      const ratio = find(writers, variant).ratio.median;
      return `${writers}: ${ratio >= target ? 'PASS' : 'FAIL'} ${ratio.toFixed(2)}×`;
    });
    lines.push(`- ${VARIANT_NAMES[variant]} ≥ ${target}× at every writer count: ${parts.join('; ')}`);
  }
  if (problems.length > 0) {
    lines.push('');
    lines.push(`**Data problems:** ${problems.join('; ')}`);
  }
  lines.push('');
  return {
    markdown: lines.join('\n'),
    ok: problems.length === 0,
    data: { durationMs, reps, loadAverage, rows },
  };
}

// ---- Roles: writer thread, child process, command line ---------------------------

if (!isMainThread && (workerData as WriterData | undefined)?.role === WORKER_ROLE) {
  void runWriter(workerData as WriterData);
} else if (require.main === module) {
  const childIndex = process.argv.indexOf('--child');
  if (childIndex >= 0) {
    const config = JSON.parse(process.argv[childIndex + 1]) as CaseConfig;
    // The result goes over IPC; then the child must exit by itself.
    void runCase(config, __filename).then((result) => {
      process.send!(result, () => process.disconnect());
    });
  } else {
    const option = (name: string): number | undefined => {
      const arg = process.argv.find((item) => item.startsWith(`--${name}=`));
      return arg === undefined ? undefined : Number(arg.slice(name.length + 3));
    };
    const quick = process.argv.includes('--quick');
    // --variants=mwsr,mwsrCork: only those (and the baseline), for a shorter run.
    const listed = process.argv.find((item) => item.startsWith('--variants='));
    const variants = listed === undefined ? undefined : (listed.slice(11).split(',') as Variant[]);
    void runWorkersBench({ quick, reps: option('reps'), durationMs: option('duration'), variants }).then(
      (report) => {
        console.log(report.markdown);
        if (!report.ok) process.exitCode = 1;
      },
    );
  }
}
