import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../tools/support';

interface Outcome {
  code: number | null;
  output: string;
}

/** Runs scripts/check-package.sh (npm run check:package), stdout and stderr together. */
function checkPackage(): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(
      'bash',
      [join(PROJECT_ROOT, 'scripts', 'check-package.sh')],
      {
        cwd: PROJECT_ROOT,
        timeout: 150_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, NO_COLOR: '1' },
      },
      (error) => resolve({ code: error === null ? 0 : (child.exitCode ?? null), output }),
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += String(chunk)));
    child.stderr?.on('data', (chunk: Buffer) => (output += String(chunk)));
  });
}

/**
 * The tarball users install: only what they need, loadable with require()
 * and import as the same classes, clean under publint and attw.
 */
describe('the package tarball (npm run check:package)', function () {
  this.timeout(180_000);
  let outcome: Outcome;

  before(async () => {
    outcome = await checkPackage();
  });

  it('passes every check and exits 0', () => {
    expect(outcome.code, outcome.output).to.equal(0);
    expect(outcome.output).to.match(/^check:package passed$/m);
  });

  it('links its Markdown only to files it ships (the README works from node_modules/mwsr)', () => {
    expect(outcome.output).to.match(/^every relative link of the shipped Markdown reaches a shipped file$/m);
  });

  it('has no sourceMappingURL comment pointing at a map it does not ship', () => {
    expect(outcome.output).to.match(/^no sourceMappingURL comments in dist\/$/m);
  });

  it('ships dist/ without source maps, docs/, the examples and benchmark figures the README links to, README.md, CHANGELOG.md, LICENSE and package.json only', () => {
    const listing = outcome.output.split('== tarball contents')[1]?.split('==')[0] ?? '';
    const files = listing.split('\n').filter((line) => line.trim() !== '');
    expect(files).to.include.members([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'docs/semantics.md',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'examples/socket-sink.ts',
      'bench/results/latest.svg',
    ]);
    expect(
      files.filter(
        (file) =>
          !/^(dist\/([a-z-]+\/)?[a-z-]+\.(js|d\.ts)|docs\/([a-z-]+\/)*[A-Za-z-]+\.md|examples\/[a-z-]+\.ts|bench\/README\.md|bench\/results\/(latest|instructions)\.md|bench\/results\/(latest|latency)\.svg|README\.md|CHANGELOG\.md|LICENSE|package\.json)$/.test(
            file,
          ),
      ),
    ).to.deep.equal([]);
  });

  it('loads in a fresh project with require() and import, as the same classes', () => {
    expect(outcome.output).to.match(
      /^require: AsyncBatchStream, BatchingWritable, WorkerChannel, WorkerWritable$/m,
    );
    expect(outcome.output).to.match(/^import: same classes as require;/m);
    expect(outcome.output).to.match(/^mwsr smoke test passed on Node /m);
  });

  it('has no problems under @arethetypeswrong/cli', () => {
    expect(outcome.output).to.match(/No problems found/);
  });
});
