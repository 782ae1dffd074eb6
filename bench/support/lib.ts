import { join } from 'node:path';

/** The library's public module, as the mwsr variants use it. */
export type Mwsr = typeof import('../../lib/index');

/**
 * Loads the compiled library from `libDir` (lib/ as built by build.ts, or a
 * `--try-lib` copy), so the same variant code can measure either.
 */
export function loadLib(libDir: string): Mwsr {
  // A path chosen at run time: a dynamic require, typed as the real module.
  return require(join(libDir, 'index.js')) as Mwsr;
}

/** `global.gc` when the process runs with --expose-gc. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A promise that only ever rejects, and the function that rejects it. */
export function failureSignal(): { promise: Promise<never>; fail: (error: unknown) => void } {
  let fail: (error: unknown) => void = () => {};
  const promise = new Promise<never>((_resolve, reject) => {
    fail = (error) => reject(error instanceof Error ? error : new Error(String(error)));
  });
  promise.catch(() => {}); // raced later; never an unhandled rejection
  return { promise, fail };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
