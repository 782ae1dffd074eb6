import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../tools/support';

/** Runs a command to its end; resolves with its exit code and output. */
function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (piece: Buffer) => {
      output += piece.toString();
    });
    child.stderr.on('data', (piece: Buffer) => {
      output += piece.toString();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, output }));
  });
}

describe('bench (npm run bench -- --quick)', function () {
  // Tiny workloads, but ~50 child processes: about a minute on 2 busy cores.
  // The timeout only guards against a hang (npm run test:slow runs this).
  this.timeout(240_000);

  it('runs every scenario and variant with the data intact, and exits 0', async () => {
    const { code, signal, output } = await run(process.execPath, [
      '-r',
      'ts-node/register/transpile-only',
      join('bench', 'run.ts'),
      '--quick',
    ]);
    expect(code, `signal ${signal}, output:\n${output.slice(-4000)}`).to.equal(0);
    expect(output).to.match(/\[\d+\/\d+\] memory /);
    expect(output).to.match(/\[\d+\/\d+\] bytes 64 B, async producers ×256 BatchingWritable /);
    expect(output).to.match(/\[latency\] 1 k\/s BatchingWritable: [\d.]+ \/ /);
    expect(output).not.to.match(/FAILED|DATA CHECK FAILED/);
  });
});

describe('bench (npm run bench -- --instructions)', function () {
  // Two runs under valgrind: node alone takes seconds to start there; about
  // 80 s on 2 busy cores. The timeout only guards against a hang. One shape
  // (the async producers with a reused buffer; the fresh shape is the timed
  // bench's usual path) keeps it to two runs.
  this.timeout(300_000);

  it('counts instructions per message with the data intact, where valgrind is installed', async function () {
    const probe = await run('valgrind', ['--version']).catch(() => null);
    if (probe === null || probe.code !== 0) this.skip();
    const { code, signal, output } = await run(process.execPath, [
      '-r',
      'ts-node/register/transpile-only',
      join('bench', 'run.ts'),
      '--instructions',
      '--variants=batching-writable',
      '--shapes=reused',
      '--messages=5000',
      `--out=${join(PROJECT_ROOT, 'bench', 'results', 'quick')}`,
    ]);
    expect(code, `signal ${signal}, output:\n${output.slice(-4000)}`).to.equal(0);
    const row = /\| BatchingWritable \| (\d+) \|/.exec(output);
    expect(row, output.slice(-2000)).to.not.equal(null);
    expect(Number(row?.[1])).to.be.greaterThan(0);
  });
});
