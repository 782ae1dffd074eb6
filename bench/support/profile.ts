/**
 * `npm run bench -- --profile`: runs the two hot paths under `node
 * --cpu-prof` (BatchingWritable, bytes 64 B × 256 producers into the socket;
 * AsyncBatchStream, objects × 256 producers) and summarizes where the time
 * goes: by area (mwsr lib, Node streams, harness, GC…), the top functions by
 * self time, and the lib functions by total time.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Build } from './build';
import type { Job, RunResult } from './jobs';

/** How node is started when not directly: `execPath args… node nodeArgs… child.js`. */
export interface ChildLauncher {
  execPath: string;
  args: string[];
  /** The child's stderr, as it comes. */
  onStderr(text: string): void;
}

export type RunInChild = (
  build: Build,
  job: Job,
  execArgv: string[],
  timeoutMs: number,
  launcher?: ChildLauncher,
) => Promise<RunResult>;

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)')
      return functionName;
    return 'native';
  }
  // Our compiled code lives under node_modules/.cache/mwsr-bench/<pid>/: test it first.
  if (/\/mwsr-bench\/\d+\/lib(-try\d+)?\//.test(url)) return 'mwsr lib';
  if (/\/mwsr-bench\/\d+\/bench\//.test(url)) return 'bench harness';
  if (url.includes('node_modules')) return 'peer library';
  if (url.startsWith('node:internal/streams')) return 'node streams';
  if (url.startsWith('node:')) return 'node other';
  return 'other';
}

function frameKey(frame: CallFrame): string {
  const file = frame.url === '' ? '' : `${basename(frame.url)}:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'} ${file}`.trim();
}

function percent(part: number, whole: number): string {
  return `${((part / whole) * 100).toFixed(1)}%`;
}

/** A Markdown summary of one .cpuprofile. */
export function summarizeProfile(profile: CpuProfile, title: string): string {
  const sampleCount = Math.max(1, profile.samples.length);
  const msPerSample = (profile.endTime - profile.startTime) / 1000 / sampleCount;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, { ms: number; area: string }>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busyMs = 0;

  for (const node of profile.nodes) {
    const ms = node.hitCount * msPerSample;
    const area = areaOf(node.callFrame);
    const key = frameKey(node.callFrame);
    self.set(key, { ms: (self.get(key)?.ms ?? 0) + ms, area });
    areas.set(area, (areas.get(area) ?? 0) + ms);
    if (area !== '(idle)' && area !== '(root)') busyMs += ms;
  }

  // Total (self + callees) per lib function, counting a recursive frame once.
  const onStack = new Map<string, number>();
  const visit = (node: ProfileNode): number => {
    const key = frameKey(node.callFrame);
    onStack.set(key, (onStack.get(key) ?? 0) + 1);
    let total = node.hitCount * msPerSample;
    for (const child of node.children ?? []) {
      const childNode = byId.get(child);
      if (childNode !== undefined) total += visit(childNode);
    }
    const depth = (onStack.get(key) ?? 1) - 1;
    onStack.set(key, depth);
    if (depth === 0 && areaOf(node.callFrame) === 'mwsr lib')
      inclusive.set(key, (inclusive.get(key) ?? 0) + total);
    return total;
  };
  const root = profile.nodes[0];
  if (root !== undefined) visit(root);

  const lines = [
    `### ${title}`,
    '',
    `${(busyMs / 1000).toFixed(2)} s busy (idle excluded), ${sampleCount} samples.`,
    '',
  ];
  lines.push('| Area | ms | share of busy |', '| --- | ---: | ---: |');
  for (const [area, ms] of [...areas].sort((a, b) => b[1] - a[1])) {
    if (area === '(idle)' || area === '(root)') continue;
    lines.push(`| ${area} | ${ms.toFixed(0)} | ${percent(ms, busyMs)} |`);
  }
  lines.push(
    '',
    'Top functions by self time:',
    '',
    '| Function | Area | self ms | share |',
    '| --- | --- | ---: | ---: |',
  );
  const top = [...self]
    .filter(([, value]) => value.area !== '(idle)')
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 30);
  for (const [key, value] of top)
    lines.push(`| \`${key}\` | ${value.area} | ${value.ms.toFixed(0)} | ${percent(value.ms, busyMs)} |`);
  lines.push(
    '',
    'mwsr lib functions by total time (self + callees):',
    '',
    '| Function | total ms | share |',
    '| --- | ---: | ---: |',
  );
  for (const [key, ms] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    lines.push(`| \`${key}\` | ${ms.toFixed(0)} | ${percent(ms, busyMs)} |`);
  }
  return lines.join('\n');
}

interface ProfileCase {
  name: string;
  title: string;
  job: Job;
}

/** Variants profiled by default; `--variants=` picks others (e.g. hand-rolled, transform). */
export const DEFAULT_PROFILED = { bytes: ['batching-writable'], objects: ['async-batch-stream'] };

/**
 * Profiles bytes 64 B × 256 producers into the socket and objects × 256
 * producers, for each chosen variant (and its `--try-lib` copy), and writes
 * summary.md next to the profiles.
 */
export async function profileCases(
  build: Build,
  port: number,
  outDir: string,
  durationMs: number,
  variants: { bytes: string[]; objects: string[] },
  runInChild: RunInChild,
): Promise<number> {
  const libs: [string, string][] = [['lib', build.libDir]];
  for (const tryLib of build.tryLibs) libs.push([`try ${tryLib.name}`, tryLib.dir]);
  const cases: ProfileCase[] = [];
  for (const [tag, libDir] of libs) {
    for (const variant of variants.bytes) {
      cases.push({
        name: `bytes-${variant}-${tag.replace(/\W+/g, '-')}`,
        title: `${variant}, bytes 64 B × 256 producers into the socket (${tag})`,
        job: {
          scenario: 'bytes',
          variant,
          producers: 256,
          messageSize: 64,
          port,
          libDir,
          durationMs,
          maxMessages: Infinity,
          warmupMs: 300,
        },
      });
    }
    for (const variant of variants.objects) {
      cases.push({
        name: `objects-${variant}-${tag.replace(/\W+/g, '-')}`,
        title: `${variant}, objects × 256 producers (${tag})`,
        job: {
          scenario: 'objects',
          variant,
          producers: 256,
          libDir,
          durationMs,
          maxMessages: Infinity,
          warmupMs: 300,
        },
      });
    }
  }
  mkdirSync(outDir, { recursive: true });
  const sections: string[] = ['# mwsr hot-path profiles', ''];
  let ok = true;
  for (const profileCase of cases) {
    const dir = join(outDir, profileCase.name);
    rmSync(dir, { recursive: true, force: true });
    const result = await runInChild(
      build,
      profileCase.job,
      ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      durationMs + 60_000,
    );
    if (!result.ok) {
      ok = false;
      sections.push(`### ${profileCase.title}`, '', `**Run failed**: ${result.error ?? 'unknown'}`, '');
      continue;
    }
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (file === undefined) {
      ok = false;
      sections.push(`### ${profileCase.title}`, '', 'No profile written.', '');
      continue;
    }
    const rate = (((result.messages / result.elapsedMs) * 1000) / 1e6).toFixed(2);
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    sections.push(
      summarizeProfile(profile, `${profileCase.title}: ${rate} M/s under the profiler`),
      '',
      `Profile: ${profileCase.name}/${file} (written beside this summary by \`npm run bench -- --profile\`; not kept in git)`,
      '',
    );
  }
  const summary = `${sections.join('\n').trimEnd()}\n`;
  writeFileSync(join(outDir, 'summary.md'), summary);
  process.stdout.write(summary);
  return ok ? 0 : 1;
}
