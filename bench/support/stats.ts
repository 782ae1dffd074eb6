/** Small statistics for repeated runs: medians, spreads and ratios. */

/** The median of `values`; NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

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

/** 7530000 → "7.53 M", 912 → "912". */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(value >= 100 || Number.isInteger(value) ? 0 : 1);
}

/** Bytes as MB (10^6), one decimal. */
export function formatMB(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1e6).toFixed(1) : '–';
}

/** 1.234 → "1.23×". */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

/** 0.043 → "±4%". */
export function formatSpread(fraction: number): string {
  return `±${Math.round(fraction * 100)}%`;
}
