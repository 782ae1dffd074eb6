import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { runDemo } from '../examples/demo';

const root = path.join(__dirname, '..');
const examples = readdirSync(path.join(root, 'examples'))
  .filter((name) => name.endsWith('.ts'))
  .sort();

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs one example as a reader would, under ts-node (types are checked by `tsc` separately). */
function runExample(name: string): Promise<Outcome> {
  // The demo runs a small workload here; the other examples ignore the flag.
  const args = ['-r', 'ts-node/register', path.join('examples', name), '--quick'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: root, timeout: 15_000, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' } },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({
          code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          signal: failure?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe('examples/', () => {
  it('holds the demo and the four usage examples', () => {
    expect(examples).to.include.members([
      'bulk-insert.ts',
      'demo.ts',
      'pipeline-socket.ts',
      'socket-sink.ts',
      'writev-header-body.ts',
    ]);
  });

  for (const name of examples) {
    it(`${name} runs to the end by itself with exit code 0 and no warnings`, async function () {
      this.timeout(20_000);
      const outcome = await runExample(name);
      const shown = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
      expect(outcome.signal, `killed (timeout?)\n${shown}`).to.equal(null);
      expect(outcome.code, shown).to.equal(0);
      expect(outcome.stderr, shown).to.equal('');
    });
  }
});

describe('runDemo', () => {
  it('delivers every message of a small workload exactly once, in order, intact, both ways', async function () {
    this.timeout(20_000);
    const producers = 16;
    const messagesPerProducer = 200;
    const result = await runDemo({ producers, messagesPerProducer, quiet: true });
    const messages = producers * messagesPerProducer;
    for (const run of [result.batched, result.naive]) {
      expect(run.problems, run.name).to.deep.equal([]);
      expect(run.verified, run.name).to.equal(true);
      expect(run.messages, run.name).to.equal(messages);
      expect(run.bytes, run.name).to.equal(messages * 64);
    }
    expect(result.verified).to.equal(true);
    // The naive way makes one socket write per message; batches hold up to 64 KiB.
    expect(result.naive.socketWrites).to.equal(messages);
    expect(result.batched.socketWrites).to.be.at.least(Math.ceil((messages * 64) / (64 * 1024)));
    expect(result.batched.socketWrites).to.be.below(messages);
  });
});
