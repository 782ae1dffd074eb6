import { Buffer } from 'node:buffer';
import { MARK } from './oracle';

/**
 * Runs `fn` with fresh memory marked: Node's Buffer pool, from its current
 * offset to its end, and every `Buffer.allocUnsafe`/`allocUnsafeSlow` made
 * meanwhile, hold the byte `MARK` until written. A batch byte the user never
 * wrote then shows as a run of `MARK` (README: "a batch holds exactly the
 * bytes written, never a byte more").
 */
export async function withCanary<R>(fn: () => Promise<R>): Promise<R> {
  const allocUnsafe = Buffer.allocUnsafe;
  const allocUnsafeSlow = Buffer.allocUnsafeSlow;
  fillPool();
  Buffer.allocUnsafe = (size: number) => allocUnsafe(size).fill(MARK);
  Buffer.allocUnsafeSlow = (size: number) => allocUnsafeSlow(size).fill(MARK);
  try {
    return await fn();
  } finally {
    Buffer.allocUnsafe = allocUnsafe;
    Buffer.allocUnsafeSlow = allocUnsafeSlow;
  }
}

/** Marks the rest of Node's current pool slab (small unsafe allocations are cut from it). */
export function fillPool(): void {
  const probe = Buffer.allocUnsafe(1);
  new Uint8Array(probe.buffer, probe.byteOffset + 1).fill(MARK);
}
