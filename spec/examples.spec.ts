import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { runDemo, svgChart, terminalChart, unfairness, type RunResult } from '../examples/demo';
import { PROJECT_ROOT } from '../tools/support';

const examples = readdirSync(path.join(PROJECT_ROOT, 'examples'))
  .filter((name) => name.endsWith('.ts'))
  .sort();

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Examples that start a PostgreSQL (PGlite): that runs initdb, about 3 s on an
 * idle machine and several times that on a busy one.
 */
const databaseExamples = new Set(['bulk-insert.ts', 'retry-with-backoff.ts']);

/** ms an example may take here. */
const timeoutOf = (name: string): number => (databaseExamples.has(name) ? 90_000 : 15_000);

/** Runs one example as a reader would, under ts-node (types are checked by `tsc` separately). */
function runExample(name: string): Promise<Outcome> {
  // The demo and the database examples run a small workload here; the other
  // examples ignore the flag.
  const args = ['-r', 'ts-node/register', path.join('examples', name), '--quick'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: PROJECT_ROOT,
        timeout: timeoutOf(name),
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      },
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
  it('holds the demo and the five usage examples', () => {
    expect(examples).to.include.members([
      'bulk-insert.ts',
      'demo.ts',
      'pipeline-socket.ts',
      'retry-with-backoff.ts',
      'socket-sink.ts',
      'writev-header-body.ts',
    ]);
  });

  for (const name of examples) {
    it(`${name} runs to the end by itself with exit code 0 and no warnings`, async function () {
      this.timeout(timeoutOf(name) + 5_000);
      const outcome = await runExample(name);
      const shown = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
      expect(outcome.signal, `killed (timeout?)\n${shown}`).to.equal(null);
      expect(outcome.code, shown).to.equal(0);
      expect(outcome.stderr, shown).to.equal('');
      if (name === 'demo.ts') {
        // Quick mode checks delivery both ways and compares no speeds: its
        // workload is too small for a fair comparison.
        expect(outcome.stdout, shown).to.match(/^verified: every message arrived exactly once/m);
        expect(outcome.stdout, shown).to.match(/^machine: \d+ cores, load average /m);
        expect(outcome.stdout, shown).to.match(/^quick mode: .*none is shown/m);
        expect(outcome.stdout, shown).not.to.match(/msgs\/s|^chart: /m);
      }
      // Each database example checks its tables row by row and says so
      // (spec/examples-database.spec.ts checks them itself).
      if (name === 'bulk-insert.ts') {
        expect(outcome.stdout, shown).to.match(
          /^verified: both tables hold every one of the 1,000 rows exactly once/m,
        );
        expect(outcome.stdout, shown).not.to.match(/rows\/s/);
      }
      if (name === 'retry-with-backoff.ts') {
        expect(outcome.stdout, shown).to.match(/^verified, row by row: /m);
        expect(outcome.stdout, shown).to.match(/the stream failed with 23514 /);
      }
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
    // The machine's load is measured beside the figures.
    expect(result.load.cores).to.be.at.least(1);
    expect(result.load.before).to.be.at.least(0);
    expect(result.unfair).to.equal(
      unfairness(result.load, [
        { name: 'a', runs: [result.batched] },
        { name: 'b', runs: [result.naive] },
      ]),
    );
    // The naive way makes one socket write per message; batches hold up to 64 KiB.
    expect(result.naive.socketWrites).to.equal(messages);
    expect(result.batched.socketWrites).to.be.at.least(Math.ceil((messages * 64) / (64 * 1024)));
    expect(result.batched.socketWrites).to.be.below(messages);
    // The summary's figures come from BatchingWritable#stats.
    const stats = result.batched.stats;
    expect(stats).to.include({ batches: result.batched.socketWrites, units: messages * 64, pendingUnits: 0 });
    expect(stats?.largestBatch).to.be.within(1, 64 * 1024);
    expect(result.naive.stats).to.equal(null);
    // The charts show both runs, the faster with the longer bar.
    const chart = terminalChart(result, 40).split('\n');
    const barOf = (label: string): number =>
      (chart.find((line) => line.includes(label))?.match(/█+/)?.[0] ?? '').length;
    const [faster, slower] =
      result.speedup >= 1 ? [result.batched, result.naive] : [result.naive, result.batched];
    expect(barOf(faster.name)).to.equal(40);
    expect(barOf(slower.name)).to.be.within(1, 40);
    const svg = svgChart(result, 'caption <&>');
    expect(svg).to.include(result.batched.name).and.to.include(result.naive.name);
    expect(svg).to.include('caption &lt;&amp;&gt;');
  });
});

describe('the demo calls a comparison unfair', () => {
  const run = (elapsedMs: number): RunResult => ({
    name: 'x',
    messages: 1000,
    bytes: 64_000,
    socketWrites: 1,
    elapsedMs,
    verified: true,
    problems: [],
    stats: null,
  });

  it('when the machine was busy before it started (load above half the cores)', () => {
    const ways = [{ name: 'mwsr', runs: [run(100), run(101)] }];
    expect(unfairness({ cores: 2, before: 1.5, after: 2 }, ways)).to.match(/busy before the demo started/);
    expect(unfairness({ cores: 4, before: 1.5, after: 2 }, ways)).to.equal(null);
  });

  it("when a way's timed runs differ by more than a quarter", () => {
    const calm = { cores: 2, before: 0.1, after: 1 };
    expect(unfairness(calm, [{ name: 'mwsr', runs: [run(100), run(130)] }])).to.match(
      /mwsr differed by 1\.30x/,
    );
    expect(unfairness(calm, [{ name: 'mwsr', runs: [run(100), run(120)] }])).to.equal(null);
  });
});
