/**
 * `npm run bench -- --instructions`: instructions per message of the bytes
 * variants, counted by callgrind, for comparisons the shared machine's timing
 * noise (±20–30% between runs) would drown.
 *
 * Each variant runs twice in a fresh child under
 * `valgrind --tool=callgrind node --single-threaded` (so V8's compiler and GC
 * work is counted on the one thread callgrind sees), against the same
 * loopback server as the timed bench, for N and 3N messages; the difference
 * over 2N leaves out start-up, warm-up and the compiler's one-off work. The
 * figure is the client's user-space instructions: harness included (making
 * each message), kernel time excluded (a variant that makes more socket
 * writes costs more than this shows).
 *
 * Two producer shapes, as in the timed bench: "fresh" (callback producers
 * writing a new message each time until write() says false) and "reused"
 * (async producers awaiting once per message, each writing one reused
 * buffer: the harness makes no message, so the stream's own cost shows).
 * `--try-lib` copies of lib/ are counted in the same run, row beside row.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BYTE_VARIANTS, BYTES_BASELINE } from '../scenarios/bytes';
import type { Build } from './build';
import type { BytesJob, ProducerShape } from './jobs';
import type { RunInChild } from './profile';

/** Variants counted by default: all bytes variants but socket.write, which is too slow under valgrind. */
export const DEFAULT_COUNTED = BYTE_VARIANTS.map((variant) => variant.id).filter(
  (id) => id !== 'socket-write',
);

/** The producer shapes counted, by the names `--shapes=` takes, in table order. */
export const COUNTED_SHAPES: readonly { name: string; shape: ProducerShape; title: string }[] = [
  { name: 'fresh', shape: 'callback', title: 'fresh messages' },
  { name: 'reused', shape: 'async', title: 'async, reused buffer' },
];

export interface CountOptions {
  variants: string[];
  /** Names from COUNTED_SHAPES. */
  shapes: string[];
  producers: number;
  messageSize: number;
  /** N: the runs write N and 3N messages. */
  messages: number;
  outDir: string;
}

interface Counted {
  /** Variant id; `+tryN` for a `--try-lib` copy. */
  variant: string;
  label: string;
  /** Instructions per message by shape name, or null when a run failed. */
  perMessage: Map<string, number | null>;
  errors: string[];
}

const COLLECTED = /Collected : (\d+)/;

/** The variants counted, each followed by its `--try-lib` copies. */
function countedVariants(build: Build, variants: string[]): { id: string; label: string; libDir: string }[] {
  const rows: { id: string; label: string; libDir: string }[] = [];
  for (const id of variants) {
    const info = BYTE_VARIANTS.find((variant) => variant.id === id);
    const label = info?.label ?? id;
    rows.push({ id, label, libDir: build.libDir });
    if (info?.usesLib !== true) continue;
    build.tryLibs.forEach((tryLib, index) => {
      rows.push({ id: `${id}+try${index + 1}`, label: `${label} [try ${tryLib.name}]`, libDir: tryLib.dir });
    });
  }
  return rows;
}

/** Counts the variants one after another; writes instructions.md; 0 when every run delivered its data. */
export async function countInstructions(
  build: Build,
  port: number,
  options: CountOptions,
  runInChild: RunInChild,
): Promise<number> {
  const shapes = COUNTED_SHAPES.filter((shape) => options.shapes.includes(shape.name));
  const counted: Counted[] = [];
  for (const variant of countedVariants(build, options.variants)) {
    const row: Counted = { variant: variant.id, label: variant.label, perMessage: new Map(), errors: [] };
    counted.push(row);
    for (const { name, shape } of shapes) {
      const totals: number[] = [];
      let error: string | undefined;
      for (const messages of [options.messages, 3 * options.messages]) {
        const job: BytesJob = {
          scenario: 'bytes',
          variant: variant.id.replace(/\+try\d+$/, ''),
          shape,
          producers: options.producers,
          messageSize: options.messageSize,
          port,
          libDir: variant.libDir,
          warmupMs: 0,
          durationMs: Infinity,
          maxMessages: messages,
        };
        let stderr = '';
        const result = await runInChild(build, job, ['--single-threaded'], 600_000, {
          execPath: 'valgrind',
          args: ['--tool=callgrind', '--callgrind-out-file=/dev/null'],
          onStderr: (text) => {
            stderr += text;
          },
        });
        const total = COLLECTED.exec(stderr);
        if (!result.ok || result.messages !== messages || total === null) {
          error =
            result.error ?? (total === null ? `no callgrind total: ${stderr.slice(-300)}` : 'messages lost');
          break;
        }
        totals.push(Number(total[1]));
      }
      const perMessage = error === undefined ? (totals[1] - totals[0]) / (2 * options.messages) : null;
      row.perMessage.set(name, perMessage);
      if (error !== undefined) row.errors.push(`${name}: ${error}`);
      process.stdout.write(
        `${variant.id} ${name}: ${perMessage === null ? `FAILED (${error})` : perMessage.toFixed(0)}\n`,
      );
    }
  }
  const report = renderCounts(counted, shapes, options);
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'instructions.md'), report);
  process.stdout.write(`\n${report}`);
  return counted.every((row) => row.errors.length === 0) ? 0 : 1;
}

function renderCounts(
  counted: Counted[],
  shapes: readonly { name: string; title: string }[],
  options: CountOptions,
): string {
  const baseline = counted.find((row) => row.variant === BYTES_BASELINE);
  const lines = [
    '# mwsr: instructions per message',
    '',
    `Bytes ${options.messageSize} B × ${options.producers} producers into the loopback socket; callgrind, ` +
      `node --single-threaded, (runs of ${3 * options.messages} − ${options.messages} messages) / ` +
      `${2 * options.messages}. Client user space, harness included; fewer is better.`,
    '',
    'Shapes: “fresh messages”, callback producers writing a new message each time until `write()` ' +
      'says false; “async, reused buffer”, async producers awaiting once per message, each writing ' +
      'one reused buffer (the harness makes no message: the stream’s own cost shows). ' +
      'Rows marked [try …] count a `--try-lib` copy of lib/ in the same run.',
    '',
    `| Variant | ${shapes.map((shape) => `${shape.title}: instructions / message | × hand-rolled`).join(' | ')} |`,
    `| --- | ${shapes.map(() => '---: | ---:').join(' | ')} |`,
  ];
  for (const row of counted) {
    const cells = shapes.map(({ name }) => {
      const value = row.perMessage.get(name) ?? null;
      const base = baseline?.perMessage.get(name) ?? null;
      const figure = value === null ? 'failed' : value.toFixed(0);
      const ratio = value === null || base === null ? '–' : `${(value / base).toFixed(2)}×`;
      return `${figure} | ${ratio}`;
    });
    lines.push(`| ${row.label} | ${cells.join(' | ')} |`);
  }
  const errors = counted.flatMap((row) => row.errors.map((error) => `- ${row.label}, ${error}`));
  if (errors.length > 0) lines.push('', 'Failed runs:', '', ...errors);
  return `${lines.join('\n')}\n`;
}
