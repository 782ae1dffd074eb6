import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../tools/support';

// `npm run mutate` breaks the code on purpose by replacing exact pieces of
// it; a piece that no longer exists would silently test nothing. This keeps
// every target in step with the code it mutates (running the mutations
// themselves takes minutes: `npm run mutate`).
describe('mutation targets (npm run mutate -- --check)', function () {
  this.timeout(60_000);

  it('finds every mutation target in the file it names', async () => {
    const outcome = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', join('scripts', 'mutate.ts'), '--check'],
        { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : (error.code as number), output: stdout + stderr }),
      );
    });
    expect(outcome.code, outcome.output).to.equal(0);
    expect(outcome.output).to.match(/^(\d+) of \1 targets found/m);
  });
});
