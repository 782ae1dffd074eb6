import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../tools/support';

const run = promisify(execFile);

/**
 * README (Install): require('mwsr') and import … from 'mwsr' both work after
 * `npm run build` (npm test builds first), and give the same classes.
 */
describe('the built package', () => {
  before(function () {
    if (!existsSync(join(PROJECT_ROOT, 'dist', 'index.js'))) {
      throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    }
  });

  it("loads with require('mwsr')", async () => {
    const { stdout } = await run(
      process.execPath,
      ['-e', "const m = require('mwsr'); console.log(typeof m.BatchingWritable, typeof m.AsyncBatchStream)"],
      { cwd: PROJECT_ROOT },
    );
    expect(stdout.trim()).to.equal('function function');
  });

  it("loads with import { BatchingWritable } from 'mwsr', as the same classes", async () => {
    const script = [
      "import { BatchingWritable, AsyncBatchStream } from 'mwsr';",
      "import { createRequire } from 'node:module';",
      'const required = createRequire(import.meta.url)("mwsr");',
      "import { Writable, Transform } from 'node:stream';",
      'const w = new BatchingWritable({ size: 4, onBatch: () => {} });',
      'console.log(required.BatchingWritable === BatchingWritable, required.AsyncBatchStream === AsyncBatchStream,',
      '  w instanceof Writable, new AsyncBatchStream({ size: 1 }) instanceof Transform);',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: PROJECT_ROOT,
    });
    expect(stdout.trim()).to.equal('true true true true');
  });

  it('ships type declarations for its exports', () => {
    expect(existsSync(join(PROJECT_ROOT, 'dist', 'index.d.ts'))).to.equal(true);
  });
});
