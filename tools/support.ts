/**
 * Helpers shared by bench/, stress/ and spec/: one copy of each, so a fix
 * reaches every tool. Plain functions with no imports beyond node:path, so
 * compiled copies (the bench's and the worker fixtures' builds) load it too.
 */
import { join } from 'node:path';

/** The repository's root folder (this file lives in tools/). */
export const PROJECT_ROOT = join(__dirname, '..');

/**
 * mulberry32: a small, fast seeded PRNG, good enough to pick random points
 * and build reproducible data; the same seed gives the same sequence, so a
 * run can be replayed. Each call returns a number in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** 7530000 → "7.53 M", 912 → "912": a rate or count, compact. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(value >= 100 || Number.isInteger(value) ? 0 : 1);
}

/** Bytes as MB (10^6), one decimal, no unit. */
export function formatMB(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1e6).toFixed(1) : '–';
}
