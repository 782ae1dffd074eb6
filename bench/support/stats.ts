/** Small statistics for repeated runs: medians, spreads and ratios. */
import { median } from '../../tools/support';

// The shared helpers, re-exported so the bench imports its statistics from one place.
export { formatCount, formatMB, median } from '../../tools/support';

/** Half the range around the median, as a fraction of it: how noisy the repetitions were. */
export function spread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const middle = median(values);
  if (!(middle > 0)) return 0;
  return (Math.max(...values) - Math.min(...values)) / 2 / middle;
}

/** `value / baseline`, or NaN when the baseline is missing or zero. */
export function ratio(value: number, baseline: number): number {
  return baseline > 0 && Number.isFinite(value) ? value / baseline : NaN;
}

/** 1.234 → "1.23×". */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

/** 0.043 → "±4%". */
export function formatSpread(fraction: number): string {
  return `±${Math.round(fraction * 100)}%`;
}
