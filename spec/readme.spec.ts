import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { README, readLatest, renderReadme, renderReadmeFigures } from '../scripts/render-readme-bench';
import { PROJECT_ROOT } from '../tools/support';

/** Inside the package, so `import … from 'mwsr'` resolves to it (a self-reference, to dist/). */
const scratch = path.join(PROJECT_ROOT, 'scratch', 'readme-snippets');

interface Snippet {
  /** 1-based line of the opening fence in README.md. */
  line: number;
  /** `run`: a whole program; `from <file>`: an excerpt of that file. */
  marker: string;
  code: string;
}

/** Every ```ts block of the README, with the `<!-- readme:… -->` marker just above it. */
function snippets(readme: string): Snippet[] {
  const lines = readme.split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    const marker = /^<!-- readme:(.+) -->$/.exec(lines[i - 1] ?? '')?.[1] ?? '';
    found.push({ line: i + 1, marker, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return found;
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number | string }) | null;
      resolve({
        code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
        stdout,
        stderr: failure !== null && typeof failure.code !== 'number' ? `${stderr}${failure.message}` : stderr,
      });
    });
  });
}

/** A line of code, without its trailing comment and indentation; '' for a comment line. */
function codeOf(line: string): string {
  return line.replace(/\s*\/\/.*$/, '').trim();
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  return new Set(
    markdown
      .split('\n')
      .filter((line) => /^#{1,6} /.test(line))
      .map((line) => anchorOf(line.replace(/^#+ /, ''))),
  );
}

/** The prose users get: README.md, CHANGELOG.md, docs/*.md and the benchmark notes (docs/api/ is generated). */
const pages = [
  'README.md',
  'CHANGELOG.md',
  ...readdirSync(path.join(PROJECT_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
  'bench/README.md',
];

/** The API reference typedoc writes from the TSDoc: its links and anchors too. */
const apiPages = readdirSync(path.join(PROJECT_ROOT, 'docs', 'api'), { recursive: true, encoding: 'utf8' })
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/api/${name}`)
  .sort();

describe('links in README.md, CHANGELOG.md, docs/ (docs/api/ too) and bench/README.md', () => {
  for (const page of [...pages, ...apiPages]) {
    it(`${page}: every relative link reaches a file, and its #anchor a heading there`, () => {
      const text = readFileSync(path.join(PROJECT_ROOT, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target === undefined || /^[a-z]+:/.test(target)) continue;
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const resolved =
          file === '' ? path.join(PROJECT_ROOT, page) : path.join(PROJECT_ROOT, path.dirname(page), file);
        expect(existsSync(resolved), `${page}: ${target}`).to.equal(true);
        if (anchor !== undefined && resolved.endsWith('.md')) {
          expect([...anchorsOf(readFileSync(resolved, 'utf8'))], `${page}: ${target}`).to.include(anchor);
        }
      }
    });
  }
});

describe('the shipped prose speaks only of the package', () => {
  // Planning notes that users never get: README, CHANGELOG and docs/ cite
  // docs/semantics.md instead. (docs/api/ is generated from the TSDoc in lib/.)
  for (const page of pages) {
    it(`${page} cites no API.md, STYLE rule or "seed"`, () => {
      const text = readFileSync(path.join(PROJECT_ROOT, page), 'utf8');
      expect(text).not.to.match(/API\.md|STYLE(\.md| \d)|\bseed\b/);
    });
  }
});

describe('citations in code and prose reach what they name', () => {
  // Where the TSDoc, comments and docs cite "README: TypeScript",
  // "docs/semantics.md 7" or "semantics 11" in words rather than as links.
  const sources = ['lib', 'spec', 'examples', 'scripts', 'stress', 'bench', 'tools']
    .flatMap((dir) =>
      readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((name) => /\.(ts|mts|js|mjs)$/.test(name) && !name.includes('node_modules'))
        .map((name) => `${dir}/${name}`),
    )
    // This file names what it looks for.
    .filter((name) => name !== 'spec/readme.spec.ts')
    .concat(pages)
    .sort();
  const textOf = (file: string): string => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  /** A heading's words, without Markdown: "A Node-style `onBatch(batch, done)`" → "a node-style onbatch(batch, done)". */
  const plain = (heading: string): string =>
    heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[`*]/g, '')
      .trim()
      .toLowerCase();
  const readmeHeadings = textOf('README.md')
    .split('\n')
    .filter((line) => /^#{2,6} /.test(line))
    .map((line) => plain(line.replace(/^#+ /, '')));
  const rules = new Set(
    [...textOf('docs/semantics.md').matchAll(/^### (\d+)\. /gm)].map(([, rule]) => Number(rule)),
  );

  it(`every "README: <section>" names a heading of README.md (${sources.length} files)`, () => {
    const broken: string[] = [];
    for (const file of sources) {
      for (const [, section] of textOf(file).matchAll(/\bREADME: ([A-Z`][\w`. -]*)/g)) {
        const words = plain((section ?? '').replace(/\.$/, ''));
        if (!readmeHeadings.some((heading) => heading.startsWith(words)))
          broken.push(`${file}: README: ${section}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('every "docs/semantics.md N" and "semantics N" names a rule of docs/semantics.md', () => {
    expect(rules.size).to.be.greaterThan(20);
    const broken: string[] = [];
    for (const file of sources) {
      for (const [cited] of textOf(file).matchAll(/\bsemantics(?:\.md)? \d+(?:(?:, | and |–)\d+)*/g)) {
        for (const rule of cited.replace(/^\D+/, '').split(/\D+/).map(Number)) {
          if (!rules.has(rule)) broken.push(`${file}: ${cited}`);
        }
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('every repository path named in backticks exists (`spec/…`, `lib/…`, bench/README.md: `support/…`)', () => {
    const broken: string[] = [];
    for (const file of sources) {
      const text = textOf(file);
      for (const [, named] of text.matchAll(
        /`((?:lib|spec|scripts|stress|bench|tools|examples|docs)\/[\w./-]*\w)`/g,
      )) {
        if (!existsSync(path.join(PROJECT_ROOT, named ?? ''))) broken.push(`${file}: ${named}`);
      }
      if (file !== 'bench/README.md') continue;
      for (const [, named] of text.matchAll(/`((?:support|scenarios|results)\/[\w./-]*\w|run\.ts)`/g)) {
        if (!existsSync(path.join(PROJECT_ROOT, 'bench', named ?? ''))) broken.push(`${file}: ${named}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('every docs/<page>.md named in code or prose exists', () => {
    const broken: string[] = [];
    for (const file of sources) {
      for (const [page] of textOf(file).matchAll(/\bdocs\/[a-z-]+\.md\b/g)) {
        if (!existsSync(path.join(PROJECT_ROOT, page))) broken.push(`${file}: ${page}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });
});

describe("README.md's API table names what the package declares", function () {
  // Read from the built declarations (dist/index.d.ts), as users get them.
  this.timeout(60_000);
  const readme = readFileSync(README, 'utf8');
  const api = readme.slice(
    readme.indexOf('\n## API\n'),
    readme.indexOf('\n### ', readme.indexOf('\n## API\n')),
  );
  /** First-column names of the table: `flush()` → flush, `Batch<T>` → Batch, **`new X<T>(o)`** → X. */
  const rows = api
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---'))
    .map((line) => {
      // "| first | kind | text |": the cells, without the outer bars.
      const [first = '', kind = '', text = ''] = line.slice(2, -2).split(' | ');
      const names = [...first.matchAll(/`(?:new )?([\w[\].]+)/g)].map(([, name]) => name ?? '');
      return { names, kind: kind.trim(), text };
    })
    .filter((row) => row.names.length > 0);

  let exported: Map<string, ts.Symbol>;
  let checker: ts.TypeChecker;
  const membersOf = (name: string): Set<string> => {
    const symbol = exported.get(name);
    expect(symbol, `${name} is exported`).not.to.equal(undefined);
    const target = (symbol!.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(symbol!) : symbol!;
    const type = checker.getDeclaredTypeOfSymbol(target);
    const parts = type.isUnion() ? type.types : [type];
    return new Set(parts.flatMap((part) => checker.getPropertiesOfType(part).map((p) => p.getName())));
  };

  before(() => {
    const index = path.join(PROJECT_ROOT, 'dist', 'index.d.ts');
    const program = ts.createProgram([index], { strict: true, types: ['node'] });
    checker = program.getTypeChecker();
    const module = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
    exported = new Map(checker.getExportsOfModule(module).map((symbol) => [symbol.getName(), symbol]));
  });

  it('reads the table', () => {
    expect(rows.length).to.be.greaterThan(15);
  });

  it('every class and type it names is exported', () => {
    const named = rows.filter((row) => /^(class|classes|types)$/.test(row.kind)).flatMap((row) => row.names);
    expect(named).to.include.members(['BatchingWritable', 'AsyncBatchStream', 'WorkerChannel', 'BatchStats']);
    expect(named.filter((name) => !exported.has(name))).to.deep.equal([]);
  });

  it('every option it names is an option of the class it says (Node options aside)', () => {
    const writable = new Set([
      ...membersOf('ByteBatchingWritableOptions'),
      ...membersOf('ObjectBatchingWritableOptions'),
    ]);
    const transform = new Set([
      ...membersOf('ByteAsyncBatchStreamOptions'),
      ...membersOf('ObjectAsyncBatchStreamOptions'),
    ]);
    const wrong: string[] = [];
    for (const row of rows.filter((candidate) => candidate.kind.startsWith('option'))) {
      for (const name of row.names) {
        if (!row.kind.includes('AsyncBatchStream') && !writable.has(name))
          wrong.push(`BatchingWritable: ${name}`);
        if (!row.kind.includes('BatchingWritable') && !transform.has(name))
          wrong.push(`AsyncBatchStream: ${name}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('every method and getter it names is on both classes', () => {
    const wrong: string[] = [];
    for (const name of rows.filter((row) => /^(method|getter)/.test(row.kind)).flatMap((row) => row.names)) {
      const member = name === '[Symbol.asyncDispose]' ? '__@asyncDispose' : name;
      for (const face of ['BatchingWritable', 'AsyncBatchStream']) {
        if (![...membersOf(face)].some((found) => found === member || found.startsWith(`${member}@`)))
          wrong.push(`${face}: ${name}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('the stats row lists every BatchStats field, and no other', () => {
    const row = rows.find((candidate) => candidate.names[0] === 'stats');
    const listed = [...(row?.text ?? '').matchAll(/`(\w+)`/g)].map(([, field]) => field);
    expect(listed).to.have.members([...membersOf('BatchStats')]);
  });
});

describe('the specs cite docs/semantics.md, not planning notes', () => {
  const files = readdirSync(path.join(PROJECT_ROOT, 'spec'), { recursive: true, encoding: 'utf8' })
    // This file names what it looks for.
    .filter((name) => name.endsWith('.ts') && name !== 'readme.spec.ts')
    .sort();
  it(`no spec file cites API.md or a STYLE rule (${files.length} files)`, () => {
    const offenders = files.filter((name) =>
      /API\.md|STYLE(\.md| \d)/.test(readFileSync(path.join(PROJECT_ROOT, 'spec', name), 'utf8')),
    );
    expect(offenders).to.deep.equal([]);
  });
});

describe('README.md', () => {
  const readme = readFileSync(README, 'utf8');
  const blocks = snippets(readme);

  it('shows the benchmark figures of bench/results/latest.json (npm run docs:bench)', () => {
    expect(readme).to.equal(renderReadme(readme, renderReadmeFigures(readLatest())));
  });

  it('marks every TypeScript snippet as a program to run or an excerpt of a file', () => {
    expect(blocks.length).to.be.greaterThan(5);
    for (const block of blocks) {
      expect(block.marker, `README.md:${block.line}`).to.match(/^(run|from examples\/[a-z-]+\.ts)$/);
    }
  });

  describe('excerpts: each line of code is in its example file, in order', () => {
    for (const block of blocks.filter((candidate) => candidate.marker.startsWith('from '))) {
      const file = block.marker.slice('from '.length);
      it(`README.md:${block.line} from ${file}`, () => {
        const source = readFileSync(path.join(PROJECT_ROOT, file), 'utf8').split('\n').map(codeOf);
        let at = 0;
        for (const line of block.code.split('\n').map(codeOf)) {
          if (line === '') continue;
          const found = source.indexOf(line, at);
          expect(found, `"${line}" is not in ${file} after line ${at}`).to.be.at.least(0);
          at = found + 1;
        }
      });
    }
  });

  describe('programs: each compiles in a strict ESM TypeScript project (exactOptionalPropertyTypes, noUncheckedIndexedAccess) and runs with no warning', function () {
    // One tsc run over all of them, then one process each.
    this.timeout(120_000);
    const programs = blocks.filter((block) => block.marker === 'run');

    before(() => {
      rmSync(scratch, { recursive: true, force: true });
      mkdirSync(scratch, { recursive: true });
      writeFileSync(
        path.join(scratch, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'node20',
            target: 'ES2022',
            lib: ['ES2024', 'ESNext.Disposable'],
            types: ['node'],
            strict: true,
            // As strict as a careful user's project.
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            verbatimModuleSyntax: true,
            noEmit: true,
            rootDir: '.',
          },
          include: ['*.mts'],
        }),
      );
      for (const block of programs) {
        writeFileSync(path.join(scratch, `readme-${block.line}.mts`), block.code);
        const dir = path.join(scratch, `readme-${block.line}`);
        mkdirSync(dir);
        const { outputText } = ts.transpileModule(block.code, {
          // Imports stay, used or not: an import that fails must fail the run.
          compilerOptions: {
            module: ts.ModuleKind.ESNext,
            target: ts.ScriptTarget.ES2022,
            verbatimModuleSyntax: true,
          },
        });
        writeFileSync(path.join(dir, 'main.mjs'), outputText);
      }
    });

    after(() => {
      rmSync(scratch, { recursive: true, force: true });
    });

    it('type-checks (tsc, strict, module node20, against the built declarations)', async () => {
      const tsc = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const outcome = await run(
        process.execPath,
        [tsc, '-p', path.join(scratch, 'tsconfig.json')],
        PROJECT_ROOT,
      );
      expect(outcome.code, outcome.stdout + outcome.stderr).to.equal(0);
    });

    for (const block of programs) {
      it(`README.md:${block.line} runs to the end, exit code 0, nothing on stderr`, async () => {
        const dir = path.join(scratch, `readme-${block.line}`);
        const outcome = await run(process.execPath, ['main.mjs'], dir);
        const shown = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
        expect(outcome.code, shown).to.equal(0);
        expect(outcome.stderr, shown).to.equal('');
      });
    }
  });
});
