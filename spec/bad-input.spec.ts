import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BAD_INPUT_ROWS,
  FACES,
  expectedFor,
  observe,
  renderBadInputMarkdown,
  renderOutcome,
} from './support/bad-input-table';
import { PROJECT_ROOT } from '../tools/support';

/**
 * Every row of docs/bad-input.md, run against each class it applies to, in
 * each mode it names (spec/support/bad-input-table.ts holds the rows).
 */
describe('bad input (docs/bad-input.md)', () => {
  for (const face of FACES) {
    describe(face, () => {
      for (const row of BAD_INPUT_ROWS) {
        const expected = expectedFor(row, face);
        if (expected === null) continue;
        for (const mode of row.modes ?? ['bytes']) {
          it(`${row.where}, ${row.input}${row.modes ? ` [${mode}]` : ''}: ${renderOutcome(expected)}`, async () => {
            expect(renderOutcome(await observe(row, face, mode))).to.equal(renderOutcome(expected));
          });
        }
      }
    });
  }

  it('docs/bad-input.md is the table rendered from these rows (npm run docs:bad-input)', () => {
    const committed = readFileSync(join(PROJECT_ROOT, 'docs', 'bad-input.md'), 'utf8');
    expect(committed).to.equal(renderBadInputMarkdown());
  });
});
