/**
 * `npm start`: mwsr doing its main job against a real socket.
 *
 * 256 concurrent producers write small framed messages to one TCP connection
 * on 127.0.0.1, twice:
 *   1. through a BatchingWritable that coalesces them into 64 KiB batches and
 *      writes each batch to the socket once the previous write has completed;
 *   2. the naive way: one `socket.write()` per message.
 * Both respect backpressure. The server runs in a worker thread, as a real
 * peer runs elsewhere: it parses every frame and checks that each message
 * arrived exactly once, in per-producer order, intact (CRC-32). The demo exits
 * with code 1 if that check fails.
 *
 * To compare fairly, both ways first run a smaller untimed workload (so V8 has
 * compiled both paths), then each is timed twice, alternately, and the faster
 * of its two runs counts. The machine's load average and core count are
 * printed beside the figures; when other processes were already keeping the
 * CPUs busy, or the two timed runs of one way disagree widely, the demo says
 * the comparison is not fair.
 *
 *   npm start                 # 256 producers x 4000 messages of 64 bytes
 *   npm start -- --quick      # 16 x 200, as the specs run it: checks delivery
 *                             # both ways, and shows no speed comparison
 *
 * While it runs it shows a progress bar (redrawn in place on a terminal, a
 * line every 0.5 s otherwise). At the end it prints the batching figures from
 * the stream's `stats`, a bar chart of messages per second both ways, and
 * writes the same chart as an SVG file (demo-results/demo.svg).
 *
 * `runDemo()` is exported so a spec can run a small workload and read the
 * figures.
 */
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { BatchingWritable, type BatchStats } from 'mwsr';

export interface DemoOptions {
  /** Concurrent producers (async functions). Default 256. */
  producers?: number;
  /** Messages each producer writes. Default 4000. */
  messagesPerProducer?: number;
  /** Payload bytes per message; the frame adds 16 (length, id, seq, CRC). Default 48. */
  payloadBytes?: number;
  /** Batch size of the BatchingWritable, in bytes. Default 64 KiB. */
  batchSize?: number;
  /** No progress line and no summary: just return the figures. */
  quiet?: boolean;
  /** Untimed messages per producer that each way sends first, to warm up. Default 400. */
  warmupMessagesPerProducer?: number;
  /** Timed runs of each way, alternately; the faster of each way's runs counts. Default 2. */
  rounds?: number;
  /** False: check delivery only, and print no speeds (the summary lines leave them out). Default true. */
  compare?: boolean;
}

/** How busy the machine was: 1-minute load averages (0 where the OS has none) and cores. */
export interface MachineLoad {
  cores: number;
  /** Before the demo started: other processes' load, since ours had not begun. */
  before: number;
  /** After the timed runs: ours included. */
  after: number;
}

/** What one run measured, and what the server found. */
export interface RunResult {
  name: string;
  /** Messages the server received. */
  messages: number;
  /** Bytes the server received. */
  bytes: number;
  /** `onBatch` calls (batched run) or `socket.write()` calls (naive run). */
  socketWrites: number;
  /** From the first write until the server had read and checked the last byte. */
  elapsedMs: number;
  /** True if every message arrived once, in order, intact, and nothing else did. */
  verified: boolean;
  /** The first few problems the server found, if any. */
  problems: string[];
  /** The batched run's `BatchingWritable#stats` at the end; null for the naive run. */
  stats: BatchStats | null;
}

export interface DemoResult {
  batched: RunResult;
  naive: RunResult;
  /** Batched messages/s divided by naive messages/s. */
  speedup: number;
  /** Both runs verified. */
  verified: boolean;
  /** Bytes per message, frame included. */
  messageBytes: number;
  load: MachineLoad;
  /**
   * Why the speed comparison is not fair, or null when it is: the machine was
   * already busy, or a way's timed runs disagreed widely.
   */
  unfair: string | null;
}

// ---- The wire format ------------------------------------------------------

/** Frame: u32 body length | u32 producer | u32 sequence | payload | u32 CRC-32 of the body before it. */
const HEADER_BYTES = 12;
const CRC_BYTES = 4;

function buildMessage(producer: number, sequence: number, payloadBytes: number): Buffer {
  // A fresh buffer per message: socket.write() keeps a reference to it, and
  // doing the same in both runs keeps them on the same footing.
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes + CRC_BYTES);
  frame.writeUInt32BE(frame.length - 4, 0);
  frame.writeUInt32BE(producer, 4);
  frame.writeUInt32BE(sequence, 8);
  for (let i = 0; i < payloadBytes; i++) frame[HEADER_BYTES + i] = (producer * 31 + sequence * 7 + i) & 0xff;
  frame.writeUInt32BE(crc32(frame.subarray(4, frame.length - CRC_BYTES)), frame.length - CRC_BYTES);
  return frame;
}

// ---- The server (worker thread) -------------------------------------------

interface ServerSettings {
  role: 'mwsr-demo-server';
}

/** What the server posts back for each connection, once it has ended. */
interface ConnectionReport {
  messages: number;
  bytes: number;
  problems: string[];
}

/**
 * One connection's frames: parses them in whatever pieces TCP delivers, and
 * checks each one.
 */
class FrameVerifier {
  messages = 0;
  bytes = 0;
  readonly problems: string[] = [];
  /** Next sequence number expected from each producer. */
  readonly #nextSequence: Uint32Array;
  /** The start of a frame that the last chunk cut off. */
  #carry: Buffer | null = null;
  /** Set once the byte stream is out of step; nothing after that can be trusted. */
  #lost = false;

  constructor(
    readonly producers: number,
    readonly messagesPerProducer: number,
  ) {
    this.#nextSequence = new Uint32Array(producers);
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.#lost) return;
    const data = this.#carry === null ? chunk : Buffer.concat([this.#carry, chunk]);
    let offset = 0;
    while (data.length - offset >= 4) {
      const bodyLength = data.readUInt32BE(offset);
      if (bodyLength < HEADER_BYTES - 4 + CRC_BYTES || bodyLength > 1 << 20) {
        this.#problem(`corrupt frame length ${bodyLength}`);
        this.#lost = true;
        return;
      }
      if (data.length - offset - 4 < bodyLength) break;
      this.#check(data.subarray(offset + 4, offset + 4 + bodyLength));
      offset += 4 + bodyLength;
    }
    this.#carry = offset === data.length ? null : Buffer.from(data.subarray(offset));
  }

  /** At the connection's end: every producer must have sent all its messages. */
  finish(): ConnectionReport {
    if (this.#carry !== null) this.#problem(`${this.#carry.length} trailing bytes of a cut frame`);
    for (let producer = 0; producer < this.producers; producer++) {
      const received = this.#nextSequence[producer];
      if (received !== this.messagesPerProducer) {
        this.#problem(
          `producer ${producer}: ${received} of ${this.messagesPerProducer} messages arrived in order`,
        );
      }
    }
    return { messages: this.messages, bytes: this.bytes, problems: this.problems };
  }

  #check(body: Buffer): void {
    this.messages++;
    const producer = body.readUInt32BE(0);
    const sequence = body.readUInt32BE(4);
    const crc = body.readUInt32BE(body.length - CRC_BYTES);
    if (crc32(body.subarray(0, body.length - CRC_BYTES)) !== crc) {
      this.#problem(`producer ${producer} message ${sequence}: checksum mismatch`);
    } else if (producer >= this.producers) {
      this.#problem(`unknown producer ${producer}`);
    } else if (sequence !== this.#nextSequence[producer]) {
      this.#problem(
        `producer ${producer}: got message ${sequence}, expected ${this.#nextSequence[producer]}`,
      );
      // After a gap, follow on from here so one loss is reported once.
      if (sequence > this.#nextSequence[producer]) this.#nextSequence[producer] = sequence + 1;
    } else {
      this.#nextSequence[producer]++;
    }
  }

  #problem(text: string): void {
    if (this.problems.length < 5) this.problems.push(text);
    else if (this.problems.length === 5) this.problems.push('...');
  }
}

/** Each connection opens with a hello: u32 producers | u32 messages per producer. */
const HELLO_BYTES = 8;

function hello(producers: number, messagesPerProducer: number): Buffer {
  const buffer = Buffer.alloc(HELLO_BYTES);
  buffer.writeUInt32BE(producers, 0);
  buffer.writeUInt32BE(messagesPerProducer, 4);
  return buffer;
}

/** The worker's body: a TCP server that reports on each connection when it ends. */
function serve(): void {
  const port = parentPort!; // only called inside the worker
  const server = net.createServer((socket) => {
    // The hello says what this connection will carry (a warm-up sends less).
    let verifier: FrameVerifier | null = null;
    let head = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (verifier !== null) return verifier.push(chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length < HELLO_BYTES) return;
      verifier = new FrameVerifier(head.readUInt32BE(0), head.readUInt32BE(4));
      if (head.length > HELLO_BYTES) verifier.push(head.subarray(HELLO_BYTES));
    });
    socket.on('end', () =>
      port.postMessage(verifier?.finish() ?? { messages: 0, bytes: 0, problems: ['no hello'] }),
    );
  });
  server.listen(0, '127.0.0.1', () => port.postMessage((server.address() as net.AddressInfo).port));
  // The main thread says when it is done; closing the server and the port
  // lets the worker exit by itself.
  port.once('message', () => {
    server.close();
    port.close();
  });
}

/** Starts the server worker; resolves with it and its port once it listens. */
async function startServer(settings: ServerSettings): Promise<{ worker: Worker; port: number }> {
  // The worker runs this same file. Under ts-node (npm start, the specs) a
  // worker thread has its own module loader, so it registers ts-node itself.
  const code = __filename.endsWith('.ts')
    ? `require('ts-node').register({ transpileOnly: true, projectSearchDir: ${JSON.stringify(__dirname)} });` +
      `require(${JSON.stringify(__filename)});`
    : `require(${JSON.stringify(__filename)});`;
  const worker = new Worker(code, { eval: true, execArgv: [], workerData: settings });
  const [port] = (await once(worker, 'message')) as [number];
  return { worker, port };
}

// ---- The producers (main thread) --------------------------------------------

/**
 * For the naive run: resolves at the socket's next 'drain', one promise shared
 * by all the producers blocked in one drain cycle, so 256 producers add one
 * 'drain' listener, not 256 (which would trip MaxListenersExceededWarning).
 * mwsr's streams have this built in: `if (!w.write(x)) await w.ready()`.
 */
function sharedDrain(stream: Writable): () => Promise<void> {
  let waiting: Promise<void> | null = null;
  return () =>
    (waiting ??= once(stream, 'drain').then(() => {
      waiting = null;
    }));
}

/** Messages a producer writes per event-loop turn, at most. */
const BURST = 64;

/** Runs `producers` producer loops at once, each handing its messages to `write`. */
function runProducers(
  options: Required<DemoOptions>,
  counters: Counters,
  write: (message: Buffer) => boolean,
  drained: () => Promise<void>,
): Promise<void[]> {
  const loops: Promise<void>[] = [];
  for (let producer = 0; producer < options.producers; producer++) {
    loops.push(
      (async () => {
        for (let sequence = 0; sequence < options.messagesPerProducer; sequence++) {
          const message = buildMessage(producer, sequence, options.payloadBytes);
          counters.messages++;
          counters.bytes += message.length;
          // Backpressure: past highWaterMark write() says false; wait for 'drain'.
          if (!write(message)) await drained();
          // Like a request handler between I/O waits, each producer writes a
          // burst per event-loop turn, then lets the others (and the progress
          // line) run. Without this, a socket that keeps accepting writes at
          // once can keep the whole run inside one turn.
          else if (sequence % BURST === BURST - 1) await nextTurn();
        }
      })(),
    );
  }
  return Promise.all(loops);
}

/** What the progress bar shows: written by the producers so far. */
interface Counters {
  messages: number;
  bytes: number;
  socketWrites: number;
  /** Messages the run will write in all. */
  total: number;
}

const BAR_WIDTH = 30;

/** `[#########.....]  45%`, in block characters. */
function progressBar(done: number, total: number): string {
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${percent}`;
}

/**
 * A live progress bar: redrawn in place on a terminal (10 times a second),
 * a line every 0.5 s otherwise (a log file, a CI job). Returns its stop function.
 */
function startProgress(label: string, writesLabel: string, counters: Counters, quiet: boolean): () => void {
  if (quiet) return () => {};
  const tty = process.stdout.isTTY === true;
  const show = (): void => {
    const line =
      `${progressBar(counters.messages, counters.total)} ${label.trim()}: ` +
      `${counters.messages.toLocaleString('en-US')} msgs, ${(counters.bytes / 1e6).toFixed(1)} MB, ` +
      `${counters.socketWrites.toLocaleString('en-US')} ${writesLabel}`;
    process.stdout.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  };
  const timer = setInterval(show, tty ? 100 : 500);
  return () => {
    clearInterval(timer);
    if (tty) process.stdout.write('\r\x1b[K');
  };
}

/** 256 producers -> BatchingWritable -> one socket.write() per batch. */
async function sendBatched(
  client: net.Socket,
  options: Required<DemoOptions>,
  counters: Counters,
): Promise<BatchStats | null> {
  const sink = new BatchingWritable({
    size: options.batchSize,
    highWaterMark: options.batchSize,
    // The batch is ours to keep: hand it to the socket and settle once the
    // socket has taken it. Meanwhile mwsr gathers the next batch.
    onBatch: (batch) =>
      new Promise<void>((resolve, reject) => {
        counters.socketWrites++;
        client.write(batch, (error) => (error ? reject(error) : resolve()));
      }),
  });
  // ready(): one 'drain' promise shared by every producer waiting on it.
  await runProducers(
    options,
    counters,
    (message) => sink.write(message),
    () => sink.ready(),
  );
  sink.end();
  await finished(sink); // every batch has been written to the socket
  return sink.stats;
}

/** 256 producers -> one socket.write() per message. */
async function sendNaive(
  client: net.Socket,
  options: Required<DemoOptions>,
  counters: Counters,
): Promise<null> {
  const write = (message: Buffer): boolean => {
    counters.socketWrites++;
    return client.write(message);
  };
  await runProducers(options, counters, write, sharedDrain(client));
  return null;
}

/** One run on a fresh connection, timed until the server has checked the last byte. */
async function runOnce(
  name: string,
  writesLabel: string,
  server: { worker: Worker; port: number },
  options: Required<DemoOptions>,
  send: typeof sendBatched,
): Promise<RunResult> {
  const client = net.connect(server.port, '127.0.0.1');
  await once(client, 'connect');
  client.write(hello(options.producers, options.messagesPerProducer));
  const closed = once(client, 'close');
  const reported = once(server.worker, 'message') as Promise<[ConnectionReport]>;
  const counters: Counters = {
    messages: 0,
    bytes: 0,
    socketWrites: 0,
    total: options.producers * options.messagesPerProducer,
  };
  const stopProgress = startProgress(name, writesLabel, counters, options.quiet);
  const started = performance.now();
  let report: ConnectionReport;
  let stats: BatchStats | null;
  try {
    stats = await send(client, options, counters);
    client.end();
    [report] = await reported;
  } finally {
    stopProgress();
  }
  const elapsedMs = performance.now() - started;
  await closed; // the server's side ends in turn (allowHalfOpen is off)
  return {
    name,
    messages: report.messages,
    bytes: report.bytes,
    socketWrites: counters.socketWrites,
    elapsedMs,
    verified: report.problems.length === 0,
    problems: report.problems,
    stats,
  };
}

/**
 * Runs the workload twice (batched, then naive) against a TCP server on
 * 127.0.0.1 and returns the figures; prints progress and a summary unless
 * `quiet`. Closes everything it opened.
 */
export async function runDemo(demoOptions: DemoOptions = {}): Promise<DemoResult> {
  const options: Required<DemoOptions> = {
    producers: 256,
    messagesPerProducer: 4000,
    payloadBytes: 48,
    batchSize: 64 * 1024,
    quiet: false,
    warmupMessagesPerProducer: 400,
    rounds: 2,
    compare: true,
    ...demoOptions,
  };
  const log = options.quiet ? () => {} : console.log;
  const cores = os.availableParallelism();
  const loadBefore = os.loadavg()[0] ?? 0;
  log(
    `${options.producers} producers x ${options.messagesPerProducer} messages of ` +
      `${options.payloadBytes + HEADER_BYTES + CRC_BYTES} bytes over TCP on 127.0.0.1 ` +
      `(Node ${process.version}, ${cores} cores, load average ${loadBefore.toFixed(2)})`,
  );
  const server = await startServer({ role: 'mwsr-demo-server' });
  try {
    const ways = [
      { name: 'mwsr BatchingWritable', writesLabel: 'batches', send: sendBatched, runs: [] as RunResult[] },
      {
        name: 'socket.write per message',
        writesLabel: 'socket writes',
        send: sendNaive,
        runs: [] as RunResult[],
      },
    ];
    // Warm-up: both paths compiled by V8 before anything is timed. Untimed,
    // but checked by the server like any run.
    const warmup = { ...options, messagesPerProducer: options.warmupMessagesPerProducer, quiet: true };
    let warmupVerified = true;
    if (warmup.messagesPerProducer > 0) {
      log('warming up both ways...');
      for (const way of ways) {
        const run = await runOnce(way.name, way.writesLabel, server, warmup, way.send);
        warmupVerified &&= run.verified;
      }
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const way of ways)
        way.runs.push(await runOnce(way.name, way.writesLabel, server, options, way.send));
    }
    // The faster run of each way: noise only ever slows a run down.
    const best = (runs: RunResult[]): RunResult =>
      runs.reduce((a, b) => (messagesPerSecond(b) > messagesPerSecond(a) ? b : a));
    const [batchedWay, naiveWay] = ways as [(typeof ways)[0], (typeof ways)[0]];
    const batched = best(batchedWay.runs);
    const naive = best(naiveWay.runs);
    log(summary(batched, 'batches', options.compare));
    log(summary(naive, 'socket writes', options.compare));
    const speedup = messagesPerSecond(batched) / messagesPerSecond(naive);
    const verified = warmupVerified && ways.every((way) => way.runs.every((run) => run.verified));
    log(
      verified
        ? 'verified: every message arrived exactly once, in per-producer order, intact (every run)'
        : 'VERIFICATION FAILED',
    );
    const load: MachineLoad = { cores, before: loadBefore, after: os.loadavg()[0] ?? 0 };
    const messageBytes = options.payloadBytes + HEADER_BYTES + CRC_BYTES;
    return { batched, naive, speedup, verified, messageBytes, load, unfair: unfairness(load, ways) };
  } finally {
    server.worker.postMessage('close');
    await once(server.worker, 'exit');
  }
}

/** Load average above this share of the cores, before we started, counts as busy. */
const BUSY_LOAD_PER_CORE = 0.5;
/** Two timed runs of one way further apart than this (slower / faster) count as unstable. */
const MAX_RUN_SPREAD = 1.25;

/** Why the comparison is not fair, or null. Exported for the specs. */
export function unfairness(load: MachineLoad, ways: { name: string; runs: RunResult[] }[]): string | null {
  if (load.before > load.cores * BUSY_LOAD_PER_CORE) {
    return (
      `the machine was busy before the demo started (load average ${load.before.toFixed(2)} on ` +
      `${load.cores} cores): other processes took CPU time from both runs, unevenly`
    );
  }
  for (const way of ways) {
    const rates = way.runs.map(messagesPerSecond);
    const spread = Math.max(...rates) / Math.min(...rates);
    if (rates.length > 1 && spread > MAX_RUN_SPREAD) {
      return `the timed runs of ${way.name} differed by ${spread.toFixed(2)}x: something else competed for the CPU`;
    }
  }
  return null;
}

/** `65,536 B` below 1 KiB, else `63.9 KiB`. */
function formatBytes(bytes: number): string {
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes.toFixed(0)} B`;
}

/** `1.23 s`, or `45.6 ms` below a second. */
function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function messagesPerSecond(run: RunResult): number {
  return run.messages / (run.elapsedMs / 1000);
}

function summary(run: RunResult, writesLabel: string, withSpeeds: boolean): string {
  const seconds = run.elapsedMs / 1000;
  const speeds = withSpeeds
    ? ` in ${seconds.toFixed(2)} s: ` +
      `${Math.round(messagesPerSecond(run)).toLocaleString('en-US')} msgs/s, ` +
      `${(run.bytes / 1e6 / seconds).toFixed(1)} MB/s,`
    : ',';
  const lines = [
    `${run.name}: ${run.messages.toLocaleString('en-US')} msgs, ` +
      `${(run.bytes / 1e6).toFixed(1)} MB${speeds} ` +
      `${run.socketWrites.toLocaleString('en-US')} ${writesLabel}`,
  ];
  const stats = run.stats;
  if (stats !== null && stats.batches > 0) {
    // BatchingWritable#stats: what batching did, and how long onBatch (here,
    // the socket taking each batch) held the stream.
    lines.push(
      `  stats: ${stats.batches.toLocaleString('en-US')} batches, ` +
        `mean ${formatBytes(stats.units / stats.batches)}, largest ${formatBytes(stats.largestBatch)}` +
        (withSpeeds
          ? `; onBatch busy ${formatMs(stats.busyMs)} in all, longest ${formatMs(stats.maxBusyMs)}`
          : ''),
    );
  }
  if (!run.verified) lines.push(`  problems: ${run.problems.join('; ')}`);
  return lines.join('\n');
}

// ---- The chart: in the terminal, and as an SVG file ------------------------

/** `1.08 M` or `331.2 k` messages per second. */
function formatRate(rate: number): string {
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(2)} M` : `${(rate / 1e3).toFixed(1)} k`;
}

function chartRows(result: DemoResult): { label: string; rate: number; writes: number; color: string }[] {
  return [result.batched, result.naive].map((run, index) => ({
    label: run.name,
    rate: messagesPerSecond(run),
    writes: run.socketWrites,
    color: index === 0 ? '#3aa57a' : '#9e9e9e',
  }));
}

/** A horizontal bar chart of messages per second, for the terminal. */
export function terminalChart(result: DemoResult, width = 40): string {
  const rows = chartRows(result);
  const top = Math.max(...rows.map((row) => row.rate));
  const labelWidth = Math.max(...rows.map((row) => row.label.length));
  const lines = ['messages per second, this run:'];
  for (const row of rows) {
    const bar = '█'.repeat(Math.max(1, Math.round((row.rate / top) * width)));
    lines.push(`  ${row.label.padEnd(labelWidth)}  ${bar.padEnd(width)}  ${formatRate(row.rate)} msgs/s`);
  }
  lines.push(`  ${result.speedup.toFixed(1)}x the messages per second with mwsr`);
  return lines.join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The same chart as a standalone SVG document, with the workload and machine in its caption. */
export function svgChart(result: DemoResult, caption: string): string {
  const rows = chartRows(result);
  const top = Math.max(...rows.map((row) => row.rate));
  const width = 820;
  const left = 220;
  const plot = width - left - 250;
  const rowHeight = 44;
  const height = 90 + rows.length * rowHeight;
  const bars = rows.map((row, index) => {
    const y = 62 + index * rowHeight;
    const barWidth = Math.max(1, (row.rate / top) * plot);
    return (
      `<text x="${left - 10}" y="${y + 19}" text-anchor="end">${escapeXml(row.label)}</text>` +
      `<rect x="${left}" y="${y}" width="${barWidth.toFixed(1)}" height="28" fill="${row.color}"/>` +
      `<text x="${(left + barWidth + 8).toFixed(1)}" y="${y + 19}">${formatRate(row.rate)} msgs/s ` +
      `<tspan fill="#555" font-size="12">(${row.writes.toLocaleString('en-US')} socket writes)</tspan></text>`
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="14">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="20" y="28" font-size="17" font-weight="bold">mwsr demo: messages per second ` +
      `(${result.speedup.toFixed(1)}x with mwsr)</text>`,
    `<text x="20" y="48" font-size="12" fill="#555">${escapeXml(caption)}</text>`,
    ...bars,
    `<text x="20" y="${height - 12}" font-size="12" fill="#555">` +
      `${result.verified ? 'Every message verified by the server: once, in order, intact.' : 'VERIFICATION FAILED'}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** Where `npm start` writes its chart (gitignored). */
const CHART_FILE = path.join(__dirname, '..', 'demo-results', 'demo.svg');

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  // Quick mode is too small a workload to time fairly: it checks delivery
  // both ways and compares no speeds.
  const options = quick
    ? { producers: 16, messagesPerProducer: 200, warmupMessagesPerProducer: 0, rounds: 1, compare: false }
    : { producers: 256, messagesPerProducer: 4000 };
  const result = await runDemo(options);
  if (!result.verified) process.exitCode = 1;
  const loadLine =
    `machine: ${result.load.cores} cores, load average ${result.load.before.toFixed(2)} before the demo, ` +
    `${result.load.after.toFixed(2)} after it (ours included)`;
  console.log(loadLine);
  if (quick) {
    console.log(
      'quick mode: delivery checked both ways; the workload is too small for a fair speed comparison, ' +
        'so none is shown (run `npm start` for one)',
    );
    return;
  }
  if (result.unfair !== null) {
    console.log(`\nNOT A FAIR COMPARISON: ${result.unfair}. Run it again on an idle machine.`);
  }
  console.log(`\n${terminalChart(result)}`);
  const caption =
    `${options.producers} producers x ${options.messagesPerProducer.toLocaleString('en-US')} messages ` +
    `of ${result.messageBytes} bytes over TCP on 127.0.0.1; ` +
    `Node ${process.version}, ${result.load.cores} cores, load ${result.load.before.toFixed(2)}; ` +
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC` +
    (result.unfair === null ? '' : '; machine busy: not a fair comparison');
  mkdirSync(path.dirname(CHART_FILE), { recursive: true });
  writeFileSync(CHART_FILE, svgChart(result, caption));
  console.log(`chart: ${path.relative(process.cwd(), CHART_FILE)}`);
}

if (!isMainThread && (workerData as ServerSettings | null)?.role === 'mwsr-demo-server') {
  serve();
} else if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
