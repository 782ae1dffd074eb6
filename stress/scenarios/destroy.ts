/**
 * destroy() at random points, in child processes (stress/scenarios/children/destroy-child.ts):
 * every pending callback and promise must settle, and the child must exit by
 * itself before a deadline, which it cannot if a timer (a `maxDelay` timer,
 * an immediate) is left behind.
 */
import { Report, formatMs, lastJsonLine, runChild, type StressOptions } from '../support/common';
import type { DestroyChildResult } from './children/destroy-child';

export async function runDestroy(options: StressOptions): Promise<Report> {
  const report = new Report('destroy: at random points, everything settles, the process exits');
  const children = options.quick ? 1 : 4;
  const trials = options.quick ? 300 : 2500;
  const deadline = options.quick ? 30_000 : 300_000;
  const runs = await Promise.all(
    Array.from({ length: children }, (_, i) =>
      runChild('scenarios/children/destroy-child.ts', [String(trials), String(options.seed + i)], deadline),
    ),
  );
  const totals = {
    trials: 0,
    writeCallbacks: 0,
    callbacksWithError: 0,
    flushes: 0,
    flushesRejected: 0,
    endCallbacks: 0,
  };
  const byPhase = new Map<string, number>();
  for (const [i, run] of runs.entries()) {
    const label = `child ${i} (seed ${options.seed + i})`;
    if (run.timedOut) {
      report.fail(
        `${label} did not exit by itself within ${formatMs(deadline)}: a timer or handle left behind, or a hang`,
      );
    } else if (run.code !== 0) {
      report.fail(`${label} exited with code ${run.code} (signal ${run.signal}): ${run.stderr.slice(-2000)}`);
    }
    const result = lastJsonLine<DestroyChildResult>(run.stdout);
    if (result === null) {
      report.fail(
        `${label} printed no result: it ended with promises pending (a hang) or crashed. ${run.stderr.slice(-2000)}`,
      );
      continue;
    }
    for (const violation of result.violations) report.fail(`${label}: ${violation}`);
    if (result.activeResources.length > 0) {
      report.note(`${label} still had ${result.activeResources.join(', ')} open at its end`);
    }
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += result[key];
    for (const [phase, count] of Object.entries(result.byPhase))
      byPhase.set(phase, (byPhase.get(phase) ?? 0) + count);
    report.figure(`${label}`, `exited by itself in ${formatMs(run.ms)}`);
  }
  report.figure(
    'trials',
    `${totals.trials} (${[...byPhase].map(([phase, n]) => `${phase} ${n}`).join(', ')})`,
  );
  report.figure(
    'settled',
    `${totals.writeCallbacks.toLocaleString('en-US')} write callbacks (${totals.callbacksWithError.toLocaleString('en-US')} with an error), ` +
      `${totals.flushes} flush() (${totals.flushesRejected} rejected), ${totals.endCallbacks} end() callbacks: each exactly once`,
  );
  return report;
}
