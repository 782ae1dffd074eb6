/**
 * Bytes into a loopback socket: many producers write small messages; each
 * variant is one way to get them into a `net.Socket`. The server (another
 * process) checks every message; the client measures its own CPU.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import bulkWriteStream from 'bulk-write-stream';
import type { BytesJob, MemoryJob, RunResult } from '../support/jobs';
import { collectGarbage, errorText, failureSignal, loadLib, type Mwsr } from '../support/lib';
import { readFileSync } from 'node:fs';
import {
  compareCounts,
  makeMessage,
  makePreamble,
  makeReusedMessage,
  type ServerReport,
} from '../support/messages';
import { AsyncProducers, HeapSampler, Producers } from '../support/producers';

/** Batch size of the coalescing variants, in bytes. */
export const BATCH_BYTES = 64 * 1024;

export interface VariantInfo {
  id: string;
  label: string;
  /** Loads mwsr, so it can also run against a `--try-lib` copy. */
  usesLib: boolean;
}

export const BYTE_VARIANTS: readonly VariantInfo[] = [
  { id: 'socket-write', label: 'socket.write per message', usesLib: false },
  { id: 'cork', label: 'cork + nextTick(uncork)', usesLib: false },
  { id: 'hand-rolled', label: 'hand-rolled 64 KiB coalescing', usesLib: false },
  { id: 'writable-floor', label: 'hand-rolled inside a Writable', usesLib: false },
  { id: 'bulk-write-stream', label: 'bulk-write-stream', usesLib: false },
  { id: 'batching-writable', label: 'BatchingWritable', usesLib: true },
  { id: 'async-batch-stream', label: 'AsyncBatchStream → socket', usesLib: true },
];

/** The baseline of the bytes ratios. */
export const BYTES_BASELINE = 'hand-rolled';

/** How a variant takes messages and gets them into the socket. */
interface ByteSink {
  /** As `Writable.write`: false means wait for the next `onDrain`. */
  write(message: Buffer): boolean;
  onDrain(listener: () => void): void;
  /** No more writes: hand the rest to the socket, then end it. */
  finish(): void;
}

type SinkFactory = (socket: Socket, lib: Mwsr, fail: (error: unknown) => void) => ByteSink;

function writeToSocket(socket: Socket, batch: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(batch, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * What a careful programmer writes by hand: copy messages into a 64 KiB
 * buffer; send it when the previous socket write has completed; tell
 * producers to wait once a full buffer is queued behind the one in flight.
 */
class HandRolledCoalescer implements ByteSink {
  readonly #socket: Socket;
  readonly #fail: (error: unknown) => void;
  /** The open buffer, bytes [0, #used) filled. */
  #current = Buffer.allocUnsafe(BATCH_BYTES);
  #used = 0;
  /** Full buffers waiting for the socket, oldest first. */
  #full: Buffer[] = [];
  /** True while a socket write has not called back; never two at once. */
  #inFlight = false;
  /** True while a nextTick send is queued. */
  #scheduled = false;
  /** A producer saw false and waits for a drain. */
  #needDrain = false;
  #ending = false;
  #drain: () => void = () => {};
  readonly #sendNext = (): void => {
    this.#scheduled = false;
    if (this.#inFlight) return;
    let batch: Buffer;
    if (this.#full.length > 0) {
      batch = this.#full.shift() as Buffer;
    } else if (this.#used > 0) {
      batch = this.#current.subarray(0, this.#used);
      this.#current = Buffer.allocUnsafe(BATCH_BYTES);
      this.#used = 0;
    } else {
      if (this.#ending) this.#socket.end();
      return;
    }
    this.#inFlight = true;
    this.#socket.write(batch, this.#onWritten);
  };
  readonly #onWritten = (error?: Error | null): void => {
    if (error) {
      this.#fail(error);
      return;
    }
    this.#inFlight = false;
    this.#sendNext();
    if (this.#needDrain && this.#full.length === 0) {
      this.#needDrain = false;
      this.#drain();
    }
  };

  constructor(socket: Socket, fail: (error: unknown) => void) {
    this.#socket = socket;
    this.#fail = fail;
  }

  write(message: Buffer): boolean {
    if (this.#used + message.length > BATCH_BYTES) {
      this.#full.push(this.#current.subarray(0, this.#used));
      this.#current = Buffer.allocUnsafe(BATCH_BYTES);
      this.#used = 0;
    }
    // set(), not copy(): the same memmove without Buffer#copy's wrapper, which
    // V8 inlines or not depending on what surrounds the call (callgrind: 970
    // vs 1205 instructions a message for this loop, harness included).
    this.#current.set(message, this.#used);
    this.#used += message.length;
    if (!this.#inFlight && !this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#sendNext);
    }
    if (this.#full.length === 0) return true;
    this.#needDrain = true;
    return false;
  }

  onDrain(listener: () => void): void {
    this.#drain = listener;
  }

  finish(): void {
    this.#ending = true;
    if (!this.#inFlight && !this.#scheduled) this.#sendNext();
  }
}

/**
 * The floor for a stream: the hand-rolled loop behind a `Writable` subclass,
 * and nothing else. What a batching stream pays for being a stream, so the
 * bench can tell that cost from mwsr's own.
 */
class CoalescingWritable extends Writable {
  readonly #coalescer: HandRolledCoalescer;

  constructor(coalescer: HandRolledCoalescer) {
    super();
    this.#coalescer = coalescer;
    coalescer.onDrain(() => this.emit('drain'));
  }

  override write(message: Buffer): boolean {
    return this.#coalescer.write(message);
  }

  override end(): this {
    this.#coalescer.finish();
    return this;
  }
}

/** A sink that is a plain Writable: its write(), 'drain' and end(). */
function streamSink(stream: Writable): ByteSink {
  return {
    write: (message) => stream.write(message),
    onDrain: (listener) => void stream.on('drain', listener),
    finish: () => void stream.end(),
  };
}

const SINKS: Record<string, SinkFactory> = {
  'socket-write': (socket) => streamSink(socket),

  cork: (socket) => {
    let corked = false;
    const uncork = (): void => {
      corked = false;
      socket.uncork();
    };
    return {
      write(message) {
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(uncork);
        }
        return socket.write(message);
      },
      onDrain: (listener) => void socket.on('drain', listener),
      finish: () => void socket.end(),
    };
  },

  'hand-rolled': (socket, _lib, fail) => new HandRolledCoalescer(socket, fail),

  'writable-floor': (socket, _lib, fail) =>
    streamSink(new CoalescingWritable(new HandRolledCoalescer(socket, fail))),

  'bulk-write-stream': (socket, _lib, fail) => {
    const stream = bulkWriteStream((batch, callback) => {
      socket.write(batch.length === 1 ? batch[0] : Buffer.concat(batch), callback);
    });
    stream.on('error', fail);
    stream.on('finish', () => socket.end());
    return streamSink(stream);
  },

  'batching-writable': (socket, lib, fail) => {
    const stream = new lib.BatchingWritable({
      size: BATCH_BYTES,
      onBatch: (batch) => writeToSocket(socket, batch),
    });
    stream.on('error', fail);
    stream.on('finish', () => socket.end());
    return streamSink(stream);
  },

  'async-batch-stream': (socket, lib, fail) => {
    const stream = new lib.AsyncBatchStream({ size: BATCH_BYTES });
    stream.on('error', fail);
    stream.pipe(socket); // ends the socket after the last batch
    return streamSink(stream);
  },
};

/** Counts the writes the socket hands to libuv: each `_write` or `_writev` call is one. */
function countSocketWrites(socket: Socket): { count: number } {
  const counter = { count: 0 };
  const prototype = Object.getPrototypeOf(socket) as Socket;
  const writev = prototype._writev;
  socket._write = (chunk, encoding, callback) => {
    counter.count++;
    prototype._write.call(socket, chunk, encoding, callback);
  };
  if (writev !== undefined) {
    socket._writev = (chunks, callback) => {
      counter.count++;
      writev.call(socket, chunks, callback);
    };
  }
  return counter;
}

/**
 * write-class system calls (write, writev, …) this process has made so far,
 * from /proc/self/io; NaN where the kernel does not say. During a run only
 * the socket writes, so the difference over the run is its syscalls,
 * partial writes and IOV_MAX splits of a long writev included.
 */
function writeSyscallsSoFar(): number {
  try {
    const match = /^syscw:\s*(\d+)$/m.exec(readFileSync('/proc/self/io', 'latin1'));
    return match === null ? NaN : Number(match[1]);
  } catch {
    return NaN;
  }
}

/** Resolves with the server's one-line report, sent once our side has ended. */
function readReport(socket: Socket): Promise<ServerReport> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (piece: string) => {
      text += piece;
    });
    socket.once('end', () => {
      try {
        resolve(JSON.parse(text) as ServerReport);
      } catch {
        reject(new Error(`bad server report: ${JSON.stringify(text.slice(0, 200))}`));
      }
    });
    socket.once('close', () => reject(new Error('socket closed before the server reported')));
  });
}

async function connectTo(port: number): Promise<Socket> {
  // Node's defaults (Nagle on), as a user who just calls connect() gets.
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  return socket;
}

/** One run: connect, send the preamble, let the producers write, wait for the server's verdict. */
async function runOnce(job: BytesJob | MemoryJob, lib: Mwsr, measured: boolean): Promise<RunResult> {
  const sinkFactory = SINKS[job.variant];
  if (sinkFactory === undefined) throw new Error(`unknown bytes variant ${job.variant}`);
  const socket = await connectTo(job.port);
  const failure = failureSignal();
  socket.on('error', failure.fail);
  const report = readReport(socket);
  report.catch(() => {});
  await writeToSocket(socket, makePreamble(job.messageSize, job.producers));
  const writes = countSocketWrites(socket);
  const sink = sinkFactory(socket, lib, failure.fail);
  const size = job.messageSize;

  const heap = new HeapSampler();
  const checkpoints = job.scenario === 'memory' && measured ? job.checkpoints : [];
  const result: RunResult = {
    ok: false,
    messages: 0,
    bytes: 0,
    elapsedMs: 0,
    cpuUs: 0,
    socketWrites: 0,
    writeSyscalls: NaN,
    stalls: 0,
    startHeap: heap.sample(),
    peakHeap: 0,
    ...(job.scenario === 'memory' ? { checkpoints: [] } : {}),
  };
  const reused =
    job.shape === 'async'
      ? Array.from({ length: job.producers }, (_, producer) => makeReusedMessage(size, producer))
      : [];
  const Shape = job.shape === 'async' ? AsyncProducers : Producers;
  const producers = new Shape(
    {
      write:
        job.shape === 'async'
          ? (producer) => sink.write(reused[producer])
          : (producer, seq) => sink.write(makeMessage(size, producer, seq)),
      onDrain: (listener) => sink.onDrain(listener),
    },
    {
      producers: job.producers,
      durationMs: job.durationMs,
      maxMessages: job.maxMessages,
      heap,
      checkpoints,
      onCheckpoint(total) {
        const heapUsed = heap.sample();
        const heapPeak = heap.takeWindowPeak();
        collectGarbage();
        const usage = process.memoryUsage();
        result.checkpoints?.push({
          messages: total,
          heapUsed,
          heapLive: usage.heapUsed,
          heapPeak,
          rss: usage.rss,
        });
      },
    },
  );

  const startCpu = process.cpuUsage();
  const startSyscalls = writeSyscallsSoFar();
  const start = performance.now();
  try {
    await Promise.race([producers.run(), failure.promise]);
    sink.finish();
    const verdict = await Promise.race([report, failure.promise]);
    result.elapsedMs = performance.now() - start;
    result.writeSyscalls = writeSyscallsSoFar() - startSyscalls;
    result.stalls = producers.stalls;
    const cpu = process.cpuUsage(startCpu);
    result.cpuUs = cpu.user + cpu.system;
    result.peakHeap = heap.peak;
    result.socketWrites = writes.count;
    result.messages = verdict.messages;
    result.bytes = verdict.bytes;
    const error =
      verdict.error ??
      compareCounts(producers.sent, verdict.perProducer) ??
      (verdict.bytes === producers.total * size
        ? null
        : `${verdict.bytes} bytes for ${producers.total} messages`);
    result.ok = error === null;
    if (error !== null) result.error = error;
  } catch (error) {
    result.error = errorText(error);
  } finally {
    heap.stop();
    socket.destroy();
  }
  return result;
}

/** Child side: an optional warm-up run, a GC, then the measured run. */
export async function runBytesJob(job: BytesJob | MemoryJob): Promise<RunResult> {
  const lib = loadLib(job.libDir);
  if (job.warmupMs > 0) {
    const warmup = await runOnce({ ...job, durationMs: job.warmupMs, maxMessages: Infinity }, lib, false);
    if (!warmup.ok) return { ...warmup, error: `warm-up: ${warmup.error ?? 'failed'}` };
  }
  collectGarbage();
  return runOnce(job, lib, true);
}
