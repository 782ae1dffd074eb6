/**
 * Child-process entry: receives one Job over IPC (structured clone, so
 * Infinity survives), runs it, sends the RunResult back and exits. A fresh
 * process per run keeps heaps and JIT state from mixing between variants.
 */
import { runBytesJob } from '../scenarios/bytes';
import { runMemoryJob } from '../scenarios/memory';
import { runObjectsJob } from '../scenarios/objects';
import { failedResult, type Job, type RunResult } from './jobs';
import { errorText } from './lib';

function runJob(job: Job): Promise<RunResult> {
  switch (job.scenario) {
    case 'bytes':
      return runBytesJob(job);
    case 'objects':
      return runObjectsJob(job);
    case 'memory':
      return runMemoryJob(job);
  }
}

process.once('message', (job: Job) => {
  runJob(job).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => process.send?.(failedResult(errorText(error)), () => process.exit(0)),
  );
});
