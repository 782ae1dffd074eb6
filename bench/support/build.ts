/**
 * Compiles the bench and the library to plain JavaScript for the child
 * processes, so they start in milliseconds and their heaps hold no
 * TypeScript compiler (peak-heap figures would be meaningless otherwise).
 * Transpile only: `npx tsc --noEmit` checks the types.
 *
 * The output goes under node_modules/.cache, so the peers resolve from the
 * project's node_modules as they do from bench/.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

export const PROJECT_ROOT = join(__dirname, '..', '..');

export interface Build {
  /** Root of the output: `bench/…` and `lib/…` below it. */
  dir: string;
  /** Compiled lib/ (or the `--try-lib` copy at `tryLibDir`). */
  libDir: string;
  tryLibDir: string | null;
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
    const output = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    const target = join(outDir, relative(sourceDir, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output.outputText);
  }
}

/** Transpiles bench/ and lib/ (and `tryLib`, if given) into a fresh directory. */
export function buildBench(tryLib: string | null): Build {
  const dir = join(PROJECT_ROOT, 'node_modules', '.cache', 'mwsr-bench', String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  transpileTree(join(PROJECT_ROOT, 'bench'), join(dir, 'bench'));
  transpileTree(join(PROJECT_ROOT, 'lib'), join(dir, 'lib'));
  let tryLibDir: string | null = null;
  if (tryLib !== null) {
    tryLibDir = join(dir, 'lib-try');
    transpileTree(tryLib, tryLibDir);
  }
  return {
    dir,
    libDir: join(dir, 'lib'),
    tryLibDir,
    childScript: join(dir, 'bench', 'support', 'child.js'),
    serverScript: join(dir, 'bench', 'support', 'server.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
