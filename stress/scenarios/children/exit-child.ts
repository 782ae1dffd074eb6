/**
 * Run by stress/scenarios/exit.ts: writes messages through both classes into two files,
 * then leaves the way `VARIANT` says, with data still pending. The parent
 * reads the files to see what arrived.
 *
 *   node -r ts-node/register/transpile-only stress/scenarios/children/exit-child.ts VARIANT FILE_PREFIX COUNT
 *
 * Files: FILE_PREFIX.BatchingWritable and FILE_PREFIX.AsyncBatchStream, each
 * 16-byte messages from PRODUCERS producers (stress/support/common.ts's format).
 */
import { open } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { AsyncBatchStream, BatchingWritable } from '../../../lib/index';
import { encodeMessage } from '../../support/common';

export const EXIT_PRODUCERS = 10;

/**
 * How the process leaves with data pending; `delivers` says whether everything
 * must arrive (true), or the variant shows how data is lost (false). The text
 * is what the summary and docs/exit.md say about it.
 */
export const EXIT_VARIANTS = {
  'end, await finished, exit': {
    delivers: true,
    what: 'end(), then await finished(stream) (AsyncBatchStream: await the whole pipeline, sink included), then process.exit()',
  },
  'await flush, exit': {
    delivers: 'BatchingWritable',
    what:
      'await flush(), then process.exit(): BatchingWritable has everything through onBatch; AsyncBatchStream has only ' +
      'pushed it to its readable side, so what the sink had not written yet is lost',
  },
  'natural exit, maxDelay 0': {
    delivers: true,
    what: "no end(), no exit(): the pending hand-over and the consumer's I/O keep the event loop alive until all is through",
  },
  'natural exit, maxDelay Infinity': {
    delivers: false,
    what: 'no end(), no exit(), maxDelay Infinity: the last partial batch waits for a full batch, flush() or end() that never come; nothing keeps the loop alive, so it is lost silently',
  },
  "'beforeExit' handler ends, maxDelay Infinity": {
    delivers: true,
    what: "process.once('beforeExit', ...) ends the stream and awaits finished(): Node runs it when the loop is empty, so the last batch goes out",
  },
  'SIGTERM handler ends, then exits': {
    delivers: true,
    what: "a process.once('SIGTERM', ...) handler that ends, awaits finished(), then exits",
  },
  'process.exit() at once': {
    delivers: false,
    what: "process.exit() right after write(): nothing pending runs again, the open batch and Node's buffer are lost",
  },
  'SIGTERM, no handler': {
    delivers: false,
    what: 'killed by SIGTERM with no handler: as process.exit(), what was not through is lost',
  },
} as const;

export type ExitVariant = keyof typeof EXIT_VARIANTS;

interface Sink {
  stream: Writable & { flush(): Promise<void>; ready(): Promise<void> };
  /** Settles once everything written has reached the file. */
  done: () => Promise<void>;
}

async function batchingWritableToFile(file: string, maxDelay: number): Promise<Sink> {
  const handle = await open(file, 'w');
  const w = new BatchingWritable({
    size: 4096,
    maxDelay,
    async onBatch(batch) {
      for (let at = 0; at < batch.length;)
        at += (await handle.write(batch, at, batch.length - at)).bytesWritten;
    },
  });
  w.on('finish', () => void handle.close());
  return { stream: w, done: () => finished(w) };
}

function asyncBatchStreamToFile(file: string, maxDelay: number): Sink {
  const t = new AsyncBatchStream({ size: 4096, maxDelay });
  const piped = pipeline(t, createWriteStream(file));
  return { stream: t, done: () => piped };
}

async function produce(stream: Sink['stream'], count: number): Promise<void> {
  // ready(): one shared drain promise per cycle, as the README recommends.
  const drain = (): Promise<void> => stream.ready();
  const perProducer = count / EXIT_PRODUCERS;
  await Promise.all(
    Array.from({ length: EXIT_PRODUCERS }, async (_, p) => {
      for (let s = 0; s < perProducer; s++) {
        if (!stream.write(encodeMessage(p, s))) await drain();
      }
    }),
  );
}

async function main(): Promise<void> {
  const [variant, prefix, countText] = process.argv.slice(2) as [ExitVariant, string, string];
  if (!(variant in EXIT_VARIANTS)) throw new Error(`unknown variant ${variant}`);
  const count = Number(countText);
  const maxDelay = variant.includes('Infinity') ? Infinity : 0;
  const sinks = [
    await batchingWritableToFile(`${prefix}.BatchingWritable`, maxDelay),
    asyncBatchStreamToFile(`${prefix}.AsyncBatchStream`, maxDelay),
  ];
  const endAll = async (): Promise<void> => {
    for (const sink of sinks) sink.stream.end();
    await Promise.all(sinks.map((sink) => sink.done()));
  };
  if (variant === "'beforeExit' handler ends, maxDelay Infinity")
    process.once('beforeExit', () => void endAll());
  if (variant === 'SIGTERM handler ends, then exits') {
    process.once('SIGTERM', () => {
      void endAll().then(() => process.exit(0));
    });
  }
  // The producers' last writes are still pending when each variant leaves.
  await Promise.all(sinks.map((sink) => produce(sink.stream, count)));
  switch (variant) {
    case 'end, await finished, exit':
      await endAll();
      process.exit(0);
      break;
    case 'await flush, exit':
      await Promise.all(sinks.map((sink) => sink.stream.flush()));
      process.exit(0);
      break;
    case 'process.exit() at once':
      process.exit(0);
      break;
    case 'SIGTERM handler ends, then exits':
    case 'SIGTERM, no handler':
      process.kill(process.pid, 'SIGTERM');
      // Keep alive until the signal arrives.
      setTimeout(() => {}, 10_000);
      break;
    default:
      // Natural exit: just return.
      break;
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
