/**
 * `npm run stress`: faults, load and bad input, with nothing lost, nothing
 * duplicated and nothing hung, for both BatchingWritable and AsyncBatchStream.
 *
 *   npm run stress                 the full run (minutes)
 *   npm run stress -- --quick      the same scenarios, small (under a minute; CI)
 *   --only=load,soak,...           some scenarios (names below)
 *   --seed=N                       replay the random choices of an earlier run
 *
 * Exits 1 on any violation (lost, duplicated or reordered data, a bound
 * exceeded, a callback or promise never settled, an unhandled rejection, a
 * child process that does not exit by itself), after a summary of peaks,
 * counts and durations.
 *
 * Layout: one file a scenario in stress/scenarios/ (the processes two of them
 * start in scenarios/children/), what they share in stress/support/ (the
 * report, seeded randomness, the message format and child processes in
 * common.ts; the faces' rig; the loopback server and its peer).
 */
import { runDestroy } from './scenarios/destroy';
import { runExit } from './scenarios/exit';
import { runFailures } from './scenarios/failures';
import { runLimits } from './scenarios/limits';
import { runLoad } from './scenarios/load';
import { runRaces } from './scenarios/races';
import { runReset } from './scenarios/reset';
import { runSoak } from './scenarios/soak';
import { Report, formatMs, watchProcessErrors, type StressOptions } from './support/common';

const SCENARIOS: Record<string, (options: StressOptions) => Promise<Report>> = {
  load: runLoad,
  limits: runLimits,
  soak: runSoak,
  failures: runFailures,
  reset: runReset,
  destroy: runDestroy,
  races: runRaces,
  exit: runExit,
};

function parseArgs(argv: string[]): StressOptions & { only: string[] } {
  const value = (name: string): string | undefined =>
    argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const seed = value('seed');
  const only = value('only')?.split(',') ?? Object.keys(SCENARIOS);
  for (const name of only) {
    if (!(name in SCENARIOS))
      throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  }
  return {
    quick: argv.includes('--quick'),
    seed: seed === undefined ? (Math.random() * 2 ** 32) >>> 0 : Number(seed),
    only,
  };
}

async function main(): Promise<void> {
  // A hang that leaves nothing alive would let Node exit 0 with promises
  // pending: the exit code stays 1 until the very end says otherwise.
  process.exitCode = 1;
  const options = parseArgs(process.argv.slice(2));
  const gc = typeof (globalThis as { gc?: unknown }).gc === 'function';
  console.log(
    `mwsr stress (${options.quick ? 'quick' : 'full'}), seed ${options.seed}, Node ${process.version}` +
      `${gc ? '' : ' (no --expose-gc: heap figures are noisier)'}`,
  );
  const started = Date.now();
  const results: { report: Report; ms: number }[] = [];
  for (const name of options.only) {
    const scenarioStarted = Date.now();
    const report = new Report(name);
    const stopWatching = watchProcessErrors(report);
    let result: Report;
    try {
      result = await SCENARIOS[name](options);
    } catch (error) {
      result = report;
      result.fail(`scenario threw: ${(error as Error)?.stack ?? String(error)}`);
    }
    // Let late unhandled rejections of this scenario surface here.
    await new Promise((resolve) => setTimeout(resolve, 20));
    stopWatching();
    for (const violation of report.violations) if (result !== report) result.fail(violation);
    const ms = Date.now() - scenarioStarted;
    results.push({ report: result, ms });
    printReport(result, ms);
  }
  const violations = results.reduce((sum, { report }) => sum + report.violations.length, 0);
  console.log('\n== summary ==');
  for (const { report, ms } of results) {
    const status = report.violations.length === 0 ? 'ok  ' : `FAIL (${report.violations.length})`;
    console.log(`${status.padEnd(10)} ${formatMs(ms).padStart(8)}  ${report.name}`);
  }
  console.log(
    `${violations === 0 ? 'PASSED' : 'FAILED'}: ${violations} violation(s) in ${formatMs(Date.now() - started)}, ` +
      `seed ${options.seed}`,
  );
  process.exitCode = violations === 0 ? 0 : 1;
}

function printReport(report: Report, ms: number): void {
  console.log(`\n== ${report.name} (${formatMs(ms)}) ==`);
  for (const [label, value] of report.figures) console.log(`  ${label}: ${value}`);
  for (const note of report.notes) console.log(`  note: ${note}`);
  for (const violation of report.violations) console.log(`  VIOLATION: ${violation}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
