/**
 * Memory under a long run: 10 million 64-byte messages from 256 producers
 * through BatchingWritable into the loopback socket, with the heap reported
 * at 1 M, 5 M and 10 M messages. Producers respect backpressure, so the heap
 * must stay flat (docs/semantics.md 12).
 */
import type { MemoryJob, RunResult } from '../support/jobs';
import { runBytesJob } from './bytes';

export interface MemoryPlan {
  messages: number;
  checkpoints: number[];
  messageSize: number;
  producers: number;
}

export const FULL_MEMORY_PLAN: MemoryPlan = {
  messages: 10_000_000,
  checkpoints: [1_000_000, 5_000_000, 10_000_000],
  messageSize: 64,
  producers: 256,
};

/** Quick mode: the same shape, a hundredth of the work. */
export const QUICK_MEMORY_PLAN: MemoryPlan = {
  messages: 100_000,
  checkpoints: [10_000, 50_000, 100_000],
  messageSize: 64,
  producers: 256,
};

/** Live heap growth between the first and last checkpoint that still counts as flat. */
export const FLAT_TOLERANCE_BYTES = 4_000_000;

/** Live-heap growth from the first checkpoint to the last; NaN without checkpoints. */
export function heapGrowth(result: RunResult): number {
  const checkpoints = result.checkpoints ?? [];
  if (checkpoints.length < 2) return NaN;
  return checkpoints[checkpoints.length - 1].heapLive - checkpoints[0].heapLive;
}

/** Child side: the memory run is a bytes run with checkpoints and no time limit. */
export function runMemoryJob(job: MemoryJob): Promise<RunResult> {
  return runBytesJob(job);
}
