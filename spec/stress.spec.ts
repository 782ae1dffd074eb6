import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../tools/support';

describe('stress (npm run stress -- --quick)', function () {
  // Seven scenarios, a server process and ten short-lived children: 20 s on
  // an idle machine, a minute or more on 2 busy cores. The timeout only
  // guards against a hang (npm run test:slow runs this).
  this.timeout(240_000);

  it('loses nothing, duplicates nothing, settles everything and exits 0', async () => {
    const { code, signal, output } = await new Promise<{
      code: number | null;
      signal: string | null;
      output: string;
    }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--expose-gc', '-r', 'ts-node/register/transpile-only', join('stress', 'run.ts'), '--quick'],
        { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (piece: Buffer) => (output += piece.toString()));
      child.stderr.on('data', (piece: Buffer) => (output += piece.toString()));
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal, output }));
    });
    expect(code, output.slice(-6000)).to.equal(0);
    expect(signal).to.equal(null);
    expect(output).to.match(/PASSED: 0 violation\(s\)/);
    expect(output).not.to.match(/VIOLATION/);
  });
});
