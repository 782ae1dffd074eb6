/**
 * What the orchestrator (bench/run.ts) sends to a child process, and what the
 * child sends back. One job is one measured run of one variant.
 */

/** How much work a run does: it stops at whichever limit comes first. */
export interface Budget {
  /** Milliseconds producers keep writing (Infinity: no time limit). */
  durationMs: number;
  /** Messages or items written in total (Infinity: no count limit). */
  maxMessages: number;
}

interface BaseJob extends Budget {
  /** Variant id, e.g. 'batching-writable'. */
  variant: string;
  /** Concurrent producers. */
  producers: number;
  /** Directory of the compiled library the mwsr variants load (lib/ or a `--try-lib` copy). */
  libDir: string;
  /** Unmeasured run of this many ms first, so the JIT has settled (0: none). */
  warmupMs: number;
  /**
   * How producers write: 'callback' (the default) writes until `write()`
   * returns false; 'async' are async functions awaiting once per message and,
   * for bytes, each writing one reused message buffer.
   */
  shape?: ProducerShape;
}

export type ProducerShape = 'callback' | 'async';

export interface BytesJob extends BaseJob {
  scenario: 'bytes';
  /** Bytes per message. */
  messageSize: number;
  /** The loopback server's port on 127.0.0.1. */
  port: number;
}

export interface ObjectsJob extends BaseJob {
  scenario: 'objects';
}

export interface MemoryJob extends BaseJob {
  scenario: 'memory';
  messageSize: number;
  port: number;
  /** Message counts at which the heap is reported. */
  checkpoints: number[];
}

export type Job = BytesJob | ObjectsJob | MemoryJob;

/** The heap at one checkpoint of the memory run. */
export interface HeapCheckpoint {
  messages: number;
  /** heapUsed as sampled, garbage included. */
  heapUsed: number;
  /** heapUsed right after a full GC: what the run really holds. */
  heapLive: number;
  /** Highest heapUsed sampled since the previous checkpoint. */
  heapPeak: number;
  rss: number;
}

export interface RunResult {
  /** True when every message arrived once, whole and in per-producer order. */
  ok: boolean;
  /** What went wrong when not ok. */
  error?: string;
  /** Messages (or items) delivered and checked. */
  messages: number;
  /** Payload bytes delivered (bytes scenarios). */
  bytes: number;
  /** From the first write until the consumer had checked the last message. */
  elapsedMs: number;
  /** Client CPU (user + system) over the same span, in microseconds. */
  cpuUs: number;
  /** Writes handed to the socket (`_write`/`_writev` calls: one libuv write each). */
  socketWrites: number;
  /**
   * write/writev system calls the process made over the run (the `syscw`
   * of /proc/self/io; NaN where there is none): the socket's, since nothing
   * else writes meanwhile.
   */
  writeSyscalls: number;
  /** Producer writes that returned false. */
  stalls: number;
  /** heapUsed after the GC that precedes the run. */
  startHeap: number;
  /** Highest heapUsed sampled during the run. */
  peakHeap: number;
  /** Memory scenario only. */
  checkpoints?: HeapCheckpoint[];
}

/** The result of a run that failed before it could measure anything. */
export function failedResult(error: string): RunResult {
  return {
    ok: false,
    error,
    messages: 0,
    bytes: 0,
    elapsedMs: 0,
    cpuUs: 0,
    socketWrites: 0,
    writeSyscalls: NaN,
    stalls: 0,
    startHeap: 0,
    peakHeap: 0,
  };
}
