/**
 * Worker-threads bench: 1, 2 and 4 writer threads each writing 64-byte
 * messages as fast as they can for a fixed time, one reader (the main
 * thread) receiving them, in one run:
 *
 *   mwsr              WorkerWritable per thread → WorkerChannel (shared-memory rings)
 *   postMessage ×1    one parentPort.postMessage(message) per message
 *   postMessage ×256  one postMessage of an array of 256 messages
 *   postMessage ×256 transfer  256 messages copied into one 16 KiB buffer,
 *                     posted with its ArrayBuffer transferred (no clone)
 *
 * Reported per case: messages/s delivered end to end (from the start signal
 * to the last message read), process CPU per message (all threads), the
 * peak backlog (messages written and not yet read), and the process's peak
 * RSS. postMessage has no backpressure, so its queue (and RSS) grows while
 * the reader lags; mwsr's rings bound the backlog (64 KiB per writer).
 *
 * Each case runs in a fresh child process (compiled JavaScript, no ts-node),
 * repetitions interleaved, medians reported. Every message carries its
 * writer and sequence number; the reader checks per-writer order and count,
 * and `ok` is false if any case lost or reordered data.
 *
 *   npx ts-node bench/workers.ts [--quick]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { WorkerChannel, WorkerWritable, type WorkerWriterHandle } from '../lib/index';

const MESSAGE_BYTES = 64;
const GROUP = 256;
const WRITER_COUNTS = [1, 2, 4];
const WORKER_ROLE = 'mwsr-workers-bench-writer';

type Variant = 'mwsr' | 'post1' | 'post256' | 'post256transfer';
const VARIANTS: readonly Variant[] = ['mwsr', 'post1', 'post256', 'post256transfer'];
const VARIANT_NAMES: Record<Variant, string> = {
  mwsr: 'mwsr WorkerChannel',
  post1: 'postMessage ×1',
  post256: 'postMessage ×256 (array)',
  post256transfer: 'postMessage ×256 (transferred buffer)',
};

interface CaseConfig {
  variant: Variant;
  writers: number;
  durationMs: number;
}

interface CaseResult {
  messages: number;
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
  if (data.variant === 'mwsr') out = new WorkerWritable(data.handle!);
  port.postMessage('ready');
  await go;
  const deadline = performance.now() + data.durationMs;
  let seq = 0;
  if (out !== null) {
    while (performance.now() < deadline) {
      for (let i = 0; i < GROUP; i++) {
        if (!out.write(makeMessage(data.id, seq++))) await once(out, 'drain');
      }
      Atomics.store(progress, 0, seq);
    }
    out.end();
    await once(out, 'finish');
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
      for (let i = 0; i < GROUP; i++) makeMessage(data.id, seq++).copy(batch, i * MESSAGE_BYTES);
      port.postMessage(batch, [batch.buffer]);
      Atomics.store(progress, 0, seq);
    }
  }
  port.postMessage({ sent: seq });
}

// ---- Reader (the child process's main thread) ----------------------------------

/** Checks per-writer order of the 64-byte messages in `bytes`. */
class Tally {
  messages = 0;
  problem = '';
  readonly #next: number[];

  constructor(writers: number) {
    this.#next = new Array<number>(writers).fill(0);
  }

  add(bytes: Uint8Array): void {
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
  const channel = variant === 'mwsr' ? new WorkerChannel({ size: 16384 }) : null;
  const sent = new Array<number>(writers).fill(-1);
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
              else if (Array.isArray(message)) for (const item of message) tally.add(item as Uint8Array);
              else if (typeof message === 'object' && message !== null && 'sent' in message) {
                sent[id] = (message as { sent: number }).sent;
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
  const start = performance.now();
  for (const worker of workers) worker.postMessage('go');
  await Promise.all(done);
  await channelEnded;
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  await Promise.all(exits);
  tally.check(sent);
  return {
    messages: tally.messages,
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

/** Transpiles lib/ and this file to JavaScript, so children and workers start without ts-node. */
function build(): { dir: string; script: string } {
  // Loaded here only: children and workers never need the compiler.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  const root = join(__dirname, '..');
  const dir = join(root, 'node_modules', '.cache', 'mwsr-workers-bench', String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  const files = [
    ...readdirSync(join(root, 'lib'))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => join('lib', name)),
    join('bench', 'workers.ts'),
  ];
  for (const file of files) {
    const output = ts.transpileModule(readFileSync(join(root, file), 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    const target = join(dir, file.replace(/\.ts$/, '.js'));
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, output.outputText);
  }
  return { dir, script: join(dir, 'bench', 'workers.js') };
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
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
  cpuNanos: number;
  peakBacklog: number;
  peakRssMB: number;
  growthMB: number;
}

/**
 * Runs the worker-threads bench and returns its Markdown section; `ok` is
 * false if any case lost, repeated or reordered a message. `quick`: short
 * runs, one repetition (a correctness check, not a measurement).
 */
export async function runWorkersBench(opts: { quick: boolean }): Promise<{ markdown: string; ok: boolean }> {
  const durationMs = opts.quick ? 150 : 1000;
  const reps = opts.quick ? 1 : 3;
  const { dir, script } = build();
  const samples = new Map<string, CaseResult[]>();
  const problems: string[] = [];
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const writers of WRITER_COUNTS) {
        for (const variant of VARIANTS) {
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

  const rows: Row[] = [];
  for (const writers of WRITER_COUNTS) {
    for (const variant of VARIANTS) {
      const runs = samples.get(`${writers}/${variant}`) ?? [];
      rows.push({
        writers,
        variant,
        rate: median(runs.map((r) => (r.elapsedMs > 0 ? (r.messages / r.elapsedMs) * 1000 : 0))),
        cpuNanos: median(runs.map((r) => (r.messages > 0 ? (r.cpuMicros * 1000) / r.messages : 0))),
        peakBacklog: median(runs.map((r) => r.peakBacklog)),
        peakRssMB: median(runs.map((r) => r.peakRss / 2 ** 20)),
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
    `Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}); ` +
      `each writer writes for ${durationMs} ms, then the reader drains; ${reps} repetition(s), medians` +
      (opts.quick ? ' (quick: a correctness check, not a measurement)' : '') +
      '. Rate = messages delivered per second, start signal to last message read. ' +
      'CPU = process CPU (all threads) per message. Backlog = most messages written and not yet read ' +
      '(sampled every 20 ms). RSS growth = peak RSS minus RSS before the start (threads already running).',
  );
  lines.push('');
  lines.push(
    '| writers | variant | msgs/s | CPU ns/msg | peak backlog (msgs) | peak RSS MB | RSS growth MB | mwsr × this |',
  );
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const ours = find(row.writers, 'mwsr');
    const ratio = row.variant === 'mwsr' || row.rate === 0 ? '' : `${(ours.rate / row.rate).toFixed(2)}×`;
    lines.push(
      `| ${row.writers} | ${VARIANT_NAMES[row.variant]} | ${formatRate(row.rate)} | ${row.cpuNanos.toFixed(0)} | ` +
        `${formatRate(row.peakBacklog)} | ${row.peakRssMB.toFixed(1)} | ${row.growthMB.toFixed(1)} | ${ratio} |`,
    );
  }
  lines.push('');
  lines.push('Targets (reported, never fail the run):');
  lines.push('');
  for (const writers of WRITER_COUNTS) {
    const ours = find(writers, 'mwsr').rate;
    const versus = (variant: Variant, target: number): string => {
      const ratio = ours / Math.max(1, find(writers, variant).rate);
      return `${ratio >= target ? 'PASS' : 'FAIL'} ${ratio.toFixed(2)}× ≥ ${target}× ${VARIANT_NAMES[variant]}`;
    };
    lines.push(
      `- ${writers} writer(s): ${versus('post1', 5)}; ${versus('post256', 1)}; ${versus('post256transfer', 1)}`,
    );
  }
  if (problems.length > 0) {
    lines.push('');
    lines.push(`**Data problems:** ${problems.join('; ')}`);
  }
  lines.push('');
  return { markdown: lines.join('\n'), ok: problems.length === 0 };
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
    void runWorkersBench({ quick: process.argv.includes('--quick') }).then((report) => {
      console.log(report.markdown);
      if (!report.ok) process.exitCode = 1;
    });
  }
}
