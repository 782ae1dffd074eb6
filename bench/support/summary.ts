/** Medians over repetitions, ratios to each block's baseline, and the targets. */
import type { RunResult } from './jobs';
import { median, ratio, spread } from './stats';

export type ScenarioName = 'bytes' | 'objects' | 'memory';

/** One measured configuration: a variant in a block (scenario, group, producer count). */
export interface CaseSpec {
  scenario: ScenarioName;
  /** Block within the scenario, e.g. '64 B' or 'objects'. */
  group: string;
  producers: number;
  /** Variant id; '+try' marks the `--try-lib` copy. */
  variant: string;
  label: string;
}

export interface SummaryRow extends CaseSpec {
  runs: number;
  /** Runs whose data arrived intact. */
  intact: number;
  errors: string[];
  /** Median messages (items) per second. */
  rate: number;
  /** Half-range of the rates over the median. */
  spread: number;
  /** Median payload MB/s (bytes only). */
  megabytesPerSecond: number;
  /** Median socket writes per run, and messages per socket write. */
  socketWrites: number;
  messagesPerWrite: number;
  /** Median messages per write-class system call (NaN where /proc/self/io is missing). */
  messagesPerSyscall: number;
  /** Median producer writes that returned false, per 1000 messages. */
  stallsPerThousand: number;
  /** Median client CPU per message, ns. */
  cpuNsPerMessage: number;
  /** Median peak heapUsed, bytes. */
  peakHeap: number;
  /** rate / the block baseline's rate, in this run. */
  ratioToBaseline: number;
  results: RunResult[];
}

export function caseKey(spec: CaseSpec): string {
  return `${spec.scenario}|${spec.group}|${spec.producers}|${spec.variant}`;
}

export function summarize(spec: CaseSpec, results: RunResult[]): SummaryRow {
  const intact = results.filter((result) => result.ok);
  const perSecond = (value: number, result: RunResult): number => (value / result.elapsedMs) * 1000;
  return {
    ...spec,
    runs: results.length,
    intact: intact.length,
    errors: results.filter((result) => !result.ok).map((result) => result.error ?? 'failed'),
    rate: median(intact.map((result) => perSecond(result.messages, result))),
    spread: spread(intact.map((result) => perSecond(result.messages, result))),
    megabytesPerSecond: median(intact.map((result) => perSecond(result.bytes, result) / 1e6)),
    socketWrites: median(intact.map((result) => result.socketWrites)),
    messagesPerWrite: median(intact.map((result) => result.messages / Math.max(1, result.socketWrites))),
    messagesPerSyscall: median(
      intact.map((result) => result.messages / Math.max(1, result.writeSyscalls ?? NaN)),
    ),
    stallsPerThousand: median(
      intact.map((result) => ((result.stalls ?? 0) * 1000) / Math.max(1, result.messages)),
    ),
    cpuNsPerMessage: median(intact.map((result) => (result.cpuUs * 1000) / Math.max(1, result.messages))),
    peakHeap: median(intact.map((result) => result.peakHeap)),
    ratioToBaseline: NaN,
    results,
  };
}

/** Fills `ratioToBaseline` with each row's rate over its block's `baseline` variant. */
export function applyBaselines(rows: SummaryRow[], baselines: Partial<Record<ScenarioName, string>>): void {
  for (const row of rows) {
    const baselineId = baselines[row.scenario];
    const baseline = rows.find(
      (other) =>
        other.scenario === row.scenario &&
        other.group === row.group &&
        other.producers === row.producers &&
        other.variant === baselineId,
    );
    row.ratioToBaseline = baseline === undefined ? NaN : ratio(row.rate, baseline.rate);
  }
}

export interface TargetResult {
  description: string;
  /** Measured value (a ratio). */
  measured: number;
  /** Required: measured >= min, or measured <= max. */
  bound: { min: number } | { max: number };
  pass: boolean;
  /** A missing measurement (filtered out, or runs failed). */
  missing: boolean;
}

export function evaluateTarget(
  description: string,
  measured: number,
  bound: { min: number } | { max: number },
): TargetResult {
  const missing = !Number.isFinite(measured);
  const pass = !missing && ('min' in bound ? measured >= bound.min : measured <= bound.max);
  return { description, measured, bound, pass, missing };
}

export function findRow(
  rows: readonly SummaryRow[],
  scenario: ScenarioName,
  group: string,
  producers: number,
  variant: string,
): SummaryRow | undefined {
  return rows.find(
    (row) =>
      row.scenario === scenario &&
      row.group === group &&
      row.producers === producers &&
      row.variant === variant,
  );
}
