/**
 * What every stress scenario shares: the report it fills, a seeded random
 * source, the message format, backpressure helpers and child processes with a
 * deadline.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { median, mulberry32, PROJECT_ROOT } from '../../tools/support';

/** stress/: the folder that `forkTs` and `runChild` resolve script names against. */
export const STRESS_DIR = join(__dirname, '..');

/** How hard to push: `--quick` for CI (under a minute), the full run otherwise. */
export interface StressOptions {
  quick: boolean;
  /** Seed of every random choice; printed so a failing run can be replayed with --seed=N. */
  seed: number;
}

/**
 * What a scenario found. A violation fails the run (exit 1); figures and
 * notes go into the summary.
 */
export class Report {
  readonly violations: string[] = [];
  readonly figures: [string, string][] = [];
  readonly notes: string[] = [];

  constructor(readonly name: string) {}

  /** Records a broken promise; `what` says which, with the numbers that show it. */
  fail(what: string): void {
    if (this.violations.length < 50) this.violations.push(what);
    else if (this.violations.length === 50) this.violations.push('... (more violations not shown)');
  }

  /** Records a violation unless `ok`. */
  check(ok: boolean, what: string): void {
    if (!ok) this.fail(what);
  }

  figure(label: string, value: string | number): void {
    // Exact counts here (a figure says how many, to the message), not the bench's compact form.
    const text =
      typeof value !== 'number'
        ? value
        : Number.isInteger(value)
          ? value.toLocaleString('en-US')
          : value.toFixed(2);
    this.figures.push([label, text]);
  }

  note(text: string): void {
    this.notes.push(text);
  }
}

/** A seeded random source (mulberry32 underneath), so a run can be replayed with --seed=N. */
export function randomSource(seed: number): Random {
  const next = mulberry32(seed);
  return {
    next,
    int: (low, high) => low + Math.floor(next() * (high - low + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
  };
}

export interface Random {
  /** In [0, 1). */
  next(): number;
  /** An integer in [low, high]. */
  int(low: number, high: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

// ---- Messages ----------------------------------------------------------------

/**
 * One message on the wire: 16 bytes, `producer` u32, `seq` u32, a check word
 * derived from both (catches torn or shifted messages) and a constant marker.
 */
export const MESSAGE_BYTES = 16;
const MARKER = 0xa5c3_5a3c;

export function checkWord(producer: number, seq: number): number {
  return (Math.imul(producer ^ 0x9e37_79b9, 0x85eb_ca6b) ^ Math.imul(seq + 1, 0xc2b2_ae35)) >>> 0;
}

export function encodeMessage(producer: number, seq: number): Buffer {
  const message = Buffer.allocUnsafe(MESSAGE_BYTES);
  message.writeUInt32LE(producer, 0);
  message.writeUInt32LE(seq, 4);
  message.writeUInt32LE(checkWord(producer, seq), 8);
  message.writeUInt32LE(MARKER, 12);
  return message;
}

/** An object-mode item: who wrote it and its place in that producer's sequence. */
export interface Item {
  p: number;
  s: number;
}

/**
 * Checks that messages arrive exactly once and in per-producer order: each
 * producer's next expected sequence number, and the first few faults.
 */
export class SequenceChecker {
  readonly #next: Uint32Array;
  received = 0;
  readonly faults: string[] = [];
  faultCount = 0;

  constructor(
    readonly producers: number,
    readonly perProducer: number,
  ) {
    this.#next = new Uint32Array(producers);
  }

  accept(producer: number, seq: number): void {
    this.received++;
    if (producer >= this.producers) return this.#fault(`message from unknown producer ${producer}`);
    const expected = this.#next[producer];
    if (seq !== expected) {
      return this.#fault(
        seq < expected
          ? `producer ${producer}: seq ${seq} again (duplicate), expected ${expected}`
          : `producer ${producer}: seq ${seq} before ${expected} (lost or reordered)`,
      );
    }
    this.#next[producer] = seq + 1;
  }

  /** Checks every message of a byte batch; `offset` into a stream of messages. */
  acceptBytes(batch: Buffer): void {
    if (batch.length % MESSAGE_BYTES !== 0) this.#fault(`batch of ${batch.length} bytes splits a message`);
    for (let at = 0; at + MESSAGE_BYTES <= batch.length; at += MESSAGE_BYTES) {
      const producer = batch.readUInt32LE(at);
      const seq = batch.readUInt32LE(at + 4);
      if (batch.readUInt32LE(at + 8) !== checkWord(producer, seq) || batch.readUInt32LE(at + 12) !== MARKER) {
        this.#fault(`corrupt message at byte ${at} of a batch`);
        continue;
      }
      this.accept(producer, seq);
    }
  }

  /** Producers whose messages did not all arrive. */
  incomplete(): number {
    let count = 0;
    for (let p = 0; p < this.producers; p++) if (this.#next[p] !== this.perProducer) count++;
    return count;
  }

  /** Messages accepted in order so far (each producer's next sequence number). */
  delivered(): number {
    let sum = 0;
    for (let p = 0; p < this.producers; p++) sum += this.#next[p];
    return sum;
  }

  #fault(what: string): void {
    this.faultCount++;
    if (this.faults.length < 5) this.faults.push(what);
  }
}

// ---- Streams -------------------------------------------------------------------

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Rejects with `label` if `promise` has not settled within `ms` (the timer is cleared). */
export async function withDeadline<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no result after ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The outcome of a promise, without throwing: for checking what settles how. */
export type Outcome = { state: 'pending' } | { state: 'resolved' } | { state: 'rejected'; error: unknown };

export function track(promise: Promise<unknown>): { outcome: Outcome } {
  const tracked: { outcome: Outcome } = { outcome: { state: 'pending' } };
  promise.then(
    () => {
      tracked.outcome = { state: 'resolved' };
    },
    (error: unknown) => {
      tracked.outcome = { state: 'rejected', error };
    },
  );
  return tracked;
}

// ---- Child processes -------------------------------------------------------------

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True if the child was still running at the deadline and had to be killed. */
  timedOut: boolean;
  ms: number;
}

/** Starts a TypeScript file of stress/ in a fresh Node process, with an IPC channel. */
export function forkTs(script: string, args: string[], execArgv: string[] = []): ChildProcess {
  return fork(join(STRESS_DIR, script), args, {
    cwd: PROJECT_ROOT,
    execArgv: [...execArgv, '-r', 'ts-node/register/transpile-only'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}

/**
 * Runs a child to its end. It must exit by itself before `deadlineMs`: a child
 * kept alive by a forgotten timer or socket is killed and reported timed out.
 */
export async function runChild(script: string, args: string[], deadlineMs: number): Promise<ChildResult> {
  const started = Date.now();
  // No IPC channel: nothing but the child's own handles may keep it alive.
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', join(STRESS_DIR, script), ...args],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (piece: Buffer) => (stdout += piece.toString()));
  child.stderr?.on('data', (piece: Buffer) => (stderr += piece.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, deadlineMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  // Let the pipes drain what the child wrote last.
  if (child.stdout && !child.stdout.readableEnded) await once(child.stdout, 'end').catch(() => {});
  if (child.stderr && !child.stderr.readableEnded) await once(child.stderr, 'end').catch(() => {});
  return { code, signal, stdout, stderr, timedOut, ms: Date.now() - started };
}

/** The last line of `text` that parses as JSON, or null. */
export function lastJsonLine<T>(text: string): T | null {
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as T;
    } catch {
      // not this one
    }
  }
  return null;
}

// ---- Formatting -------------------------------------------------------------------

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Heap samples taken at intervals (after a GC when --expose-gc is on). */
export class HeapSampler {
  readonly samples: number[] = [];
  #timer: NodeJS.Timeout | null = null;

  start(intervalMs: number): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#sample();
  }

  /**
   * Median of the first third against the median of the last third: a leak
   * proportional to the messages sent shows as steady growth between them.
   */
  growth(): { first: number; last: number; peak: number } {
    const n = this.samples.length;
    const third = Math.max(1, Math.floor(n / 3));
    return {
      first: median(this.samples.slice(0, third)),
      last: median(this.samples.slice(n - third)),
      peak: Math.max(...this.samples),
    };
  }

  #sample(): void {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) gc();
    this.samples.push(process.memoryUsage().heapUsed);
  }
}

/** Records unhandled rejections and uncaught exceptions while a scenario runs. */
export function watchProcessErrors(report: Report): () => void {
  const onRejection = (reason: unknown): void => report.fail(`unhandled rejection: ${describe(reason)}`);
  const onException = (error: unknown): void => report.fail(`uncaught exception: ${describe(error)}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}

export function describe(value: unknown): string {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return `${value.name}${typeof code === 'string' ? ` ${code}` : ''}: ${value.message}`;
  }
  return `${typeof value} ${String(value)}`;
}
