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
 * writes costs more than this shows). It reproduces to about ±0.5%.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BYTE_VARIANTS, BYTES_BASELINE } from '../scenarios/bytes';
import type { Build } from './build';
import type { BytesJob } from './jobs';
import type { RunInChild } from './profile';

/** Variants counted by default: all bytes variants but socket.write, which is too slow under valgrind. */
export const DEFAULT_COUNTED = BYTE_VARIANTS.map((variant) => variant.id).filter(
  (id) => id !== 'socket-write',
);

export interface CountOptions {
  variants: string[];
  producers: number;
  messageSize: number;
  /** N: the runs write N and 3N messages. */
  messages: number;
  outDir: string;
}

interface Counted {
  variant: string;
  /** Instructions per message, or null when a run failed. */
  perMessage: number | null;
  error?: string;
}

const COLLECTED = /Collected : (\d+)/;

/** Counts the variants one after another; writes instructions.md; 0 when every run delivered its data. */
export async function countInstructions(
  build: Build,
  port: number,
  options: CountOptions,
  runInChild: RunInChild,
): Promise<number> {
  const counted: Counted[] = [];
  for (const variant of options.variants) {
    const totals: number[] = [];
    let error: string | undefined;
    for (const messages of [options.messages, 3 * options.messages]) {
      const job: BytesJob = {
        scenario: 'bytes',
        variant,
        producers: options.producers,
        messageSize: options.messageSize,
        port,
        libDir: build.libDir,
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
    counted.push({ variant, perMessage, ...(error === undefined ? {} : { error }) });
    process.stdout.write(
      `${variant}: ${perMessage === null ? `FAILED (${error})` : perMessage.toFixed(0)}\n`,
    );
  }
  const report = renderCounts(counted, options);
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'instructions.md'), report);
  process.stdout.write(`\n${report}`);
  return counted.every((row) => row.perMessage !== null) ? 0 : 1;
}

function renderCounts(counted: Counted[], options: CountOptions): string {
  const baseline = counted.find((row) => row.variant === BYTES_BASELINE)?.perMessage ?? null;
  const label = (id: string): string => BYTE_VARIANTS.find((variant) => variant.id === id)?.label ?? id;
  const lines = [
    '# mwsr: instructions per message',
    '',
    `Bytes ${options.messageSize} B × ${options.producers} producers into the loopback socket; callgrind, ` +
      `node --single-threaded, (runs of ${3 * options.messages} − ${options.messages} messages) / ` +
      `${2 * options.messages}. Client user space, harness included; fewer is better.`,
    '',
    '| Variant | Instructions / message | × hand-rolled |',
    '| --- | ---: | ---: |',
  ];
  for (const row of counted) {
    const figure = row.perMessage === null ? `failed: ${row.error ?? ''}` : row.perMessage.toFixed(0);
    const ratio =
      row.perMessage === null || baseline === null ? '–' : `${(row.perMessage / baseline).toFixed(2)}×`;
    lines.push(`| ${label(row.variant)} | ${figure} | ${ratio} |`);
  }
  return `${lines.join('\n')}\n`;
}
