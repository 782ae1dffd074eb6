/**
 * `npm run docs:bad-input`: renders docs/bad-input.md from the rows in
 * spec/support/bad-input-table.ts (the same rows spec/bad-input.spec.ts runs).
 * `--check`: writes nothing, exits 1 if the committed file is not current.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderBadInputMarkdown } from '../spec/support/bad-input-table';
import { PROJECT_ROOT } from '../tools/support';

const target = join(PROJECT_ROOT, 'docs', 'bad-input.md');
const rendered = renderBadInputMarkdown();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== rendered) {
    console.error('docs/bad-input.md is stale: run npm run docs:bad-input');
    process.exitCode = 1;
  }
} else {
  writeFileSync(target, rendered);
  console.log(`wrote ${target}`);
}
