/**
 * Compiles the bench and the library to plain JavaScript for the child
 * processes, so they start in milliseconds and their heaps hold no
 * TypeScript compiler (peak-heap figures would be meaningless otherwise).
 * Transpile only: `npx tsc --noEmit` checks the types.
 *
 * The output goes under node_modules/.cache, so the peers resolve from the
 * project's node_modules as they do from bench/.
 */
import { readdirSync, rmSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { transpileFile } from '../../tools/transpile';

import { PROJECT_ROOT } from '../../tools/support';

export { PROJECT_ROOT };

export interface Build {
  /** Root of the output: `bench/…` and `lib/…` below it. */
  dir: string;
  /** Compiled lib/. */
  libDir: string;
  /** Compiled `--try-lib` copies, in the order given: variants `<id>+try1`, `+try2`, … */
  tryLibs: { name: string; dir: string }[];
  childScript: string;
  serverScript: string;
  remove(): void;
}

function tsFilesUnder(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'results' && entry.name !== 'node_modules') files.push(...tsFilesUnder(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      files.push(path);
    }
  }
  return files;
}

function transpileTree(sourceDir: string, outDir: string): void {
  for (const file of tsFilesUnder(sourceDir)) {
    transpileFile(file, join(outDir, relative(sourceDir, file)).replace(/\.ts$/, '.js'), file);
  }
}

/** Transpiles bench/, lib/, tools/ (and each `tryLibs` copy) into a fresh directory. */
export function buildBench(tryLibs: readonly string[]): Build {
  const dir = join(PROJECT_ROOT, 'node_modules', '.cache', 'mwsr-bench', String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  transpileTree(join(PROJECT_ROOT, 'bench'), join(dir, 'bench'));
  transpileTree(join(PROJECT_ROOT, 'lib'), join(dir, 'lib'));
  transpileTree(join(PROJECT_ROOT, 'tools'), join(dir, 'tools'));
  const compiledTries = tryLibs.map((source, index) => {
    const out = join(dir, `lib-try${index + 1}`);
    transpileTree(source, out);
    return { name: basename(source), dir: out };
  });
  return {
    dir,
    libDir: join(dir, 'lib'),
    tryLibs: compiledTries,
    childScript: join(dir, 'bench', 'support', 'child.js'),
    serverScript: join(dir, 'bench', 'support', 'server.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
