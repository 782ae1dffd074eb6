/**
 * A process that exits with data pending (stress/scenarios/children/exit-child.ts):
 * what arrives in the file, for each way of leaving. The ways that must
 * deliver everything (end() and await finished(), flush() with
 * BatchingWritable, a natural exit with maxDelay 0, a 'beforeExit' or SIGTERM
 * handler that ends the stream) are checked to; the others are reported with
 * what they lost, as docs/exit.md describes. In every case, what arrived is
 * intact, in order and never duplicated, and the child exits by itself.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_PRODUCERS, EXIT_VARIANTS, type ExitVariant } from './children/exit-child';
import { FACES } from '../support/rig';
import { Report, SequenceChecker, formatMs, runChild, type StressOptions } from '../support/common';

/** Children run at once: each is mostly ts-node's start-up, on one core. */
const PARALLEL = 2;

export async function runExit(options: StressOptions): Promise<Report> {
  const report = new Report('exit: a process leaving with data pending');
  const count = options.quick ? 20_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'mwsr-exit-'));
  try {
    const variants = Object.keys(EXIT_VARIANTS) as ExitVariant[];
    const queue = [...variants.entries()];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const [index, variant] = next;
        await exitOne(variant, join(dir, `run${index}`), count, options, report);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

async function exitOne(
  variant: ExitVariant,
  prefix: string,
  count: number,
  options: StressOptions,
  report: Report,
): Promise<void> {
  const deadline = options.quick ? 30_000 : 120_000;
  const run = await runChild('scenarios/children/exit-child.ts', [variant, prefix, String(count)], deadline);
  const expectSignal = variant === 'SIGTERM, no handler';
  if (run.timedOut) report.fail(`${variant}: the child did not exit by itself within ${formatMs(deadline)}`);
  else if (expectSignal ? run.signal !== 'SIGTERM' : run.code !== 0) {
    report.fail(
      `${variant}: the child exited with code ${run.code}, signal ${run.signal}: ${run.stderr.slice(-1500)}`,
    );
  }
  const { delivers } = EXIT_VARIANTS[variant];
  const results: string[] = [];
  for (const face of FACES) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(`${prefix}.${face}`);
    } catch {
      bytes = Buffer.alloc(0);
    }
    const checker = new SequenceChecker(EXIT_PRODUCERS, count / EXIT_PRODUCERS);
    checker.acceptBytes(bytes);
    const mustDeliver = delivers === true || delivers === face;
    if (checker.faultCount > 0) report.fail(`${variant}, ${face}: ${checker.faults.join('; ')}`);
    if (mustDeliver && (checker.received !== count || checker.incomplete() !== 0)) {
      report.fail(`${variant}, ${face}: ${checker.received} of ${count} messages arrived`);
    }
    const lost = count - checker.received;
    results.push(
      `${face} ${lost === 0 ? 'all' : `${checker.received.toLocaleString('en-US')}`}${lost === 0 ? '' : ` (${lost.toLocaleString('en-US')} lost${mustDeliver ? '' : ', as documented'})`}`,
    );
  }
  report.figure(
    `${variant}`,
    `${results.join('; ')} of ${count.toLocaleString('en-US')}, child ran ${formatMs(run.ms)}`,
  );
}
