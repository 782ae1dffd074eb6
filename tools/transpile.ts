/**
 * TypeScript to plain CommonJS JavaScript, one file at a time, for the child
 * processes and worker threads the bench and the specs start: they then load
 * without ts-node and the compiler. Transpile only: `npm run typecheck` checks
 * the types. Kept apart from support.ts so that what loads support.ts (worker
 * threads among them) never loads the compiler.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import ts from 'typescript';

/**
 * Transpiles `source` into `target` (folders made as needed). `fileName` is
 * the name source maps and diagnostics give the file; `options` adds to the
 * CommonJS/ES2022 defaults (source maps, for one).
 */
export function transpileFile(
  source: string,
  target: string,
  fileName: string,
  options: ts.CompilerOptions = {},
): void {
  const output = ts.transpileModule(readFileSync(source, 'utf8'), {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      ...options,
    },
  });
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, output.outputText);
}
