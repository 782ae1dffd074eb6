/**
 * Limits: object mode with `maxBytes` and `sizeOf` (docs/semantics.md 22) on
 * both faces, and `BatchingWritable` with `concurrency` 4 (docs/semantics.md
 * 23), under thousands of producers whose items weigh 0 to 600 bytes, some in
 * writeV() groups, into a consumer whose calls take random time and (with
 * concurrency) settle in any order. Checked at every batch: 1 to `size`
 * items, at most `maxBytes` bytes (no item exceeds it here), never more than
 * `concurrency` calls running, and `stats.inFlight` saying so; at every
 * write, the bytes waiting beyond the writes of producers now waiting for
 * 'drain' stay below the byte limit (maxBytes × (size + highWaterMark) /
 * size) plus one write (a group of up to 4 items). Every item arrives
 * exactly once, in per-producer order (by the order the calls started); a
 * group that fits both limits arrives whole in one batch.
 */
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';
import {
  Report,
  SequenceChecker,
  delay,
  formatMs,
  randomSource,
  withDeadline,
  type Random,
  type StressOptions,
} from '../support/common';

interface Weighed {
  p: number;
  s: number;
  w: number;
  /** Set on every item of a writeV() group that fits both limits: its first item's (p, s). */
  group?: string;
}

const SIZE = 256;
const MAX_BYTES = 16 * 1024;
const MAX_WEIGHT = 600;
const HIGH_WATER_MARK = 16;
const BYTE_LIMIT = Math.ceil((MAX_BYTES * (SIZE + HIGH_WATER_MARK)) / SIZE);

export async function runLimits(options: StressOptions): Promise<Report> {
  const report = new Report('limits: maxBytes and concurrency under load');
  const random = randomSource(options.seed ^ 0x11a175);
  const producers = options.quick ? 300 : 3000;
  const perProducer = options.quick ? 10 : 40;
  for (const [face, concurrency] of [
    ['BatchingWritable', 1],
    ['BatchingWritable', 4],
    ['AsyncBatchStream', 1],
  ] as const) {
    await withDeadline(
      limitsOne(face, concurrency, producers, perProducer, random, report),
      options.quick ? 60_000 : 600_000,
      `limits ${face} concurrency ${concurrency}`,
    ).catch((error: Error) => report.fail(error.message));
  }
  return report;
}

async function limitsOne(
  face: 'BatchingWritable' | 'AsyncBatchStream',
  concurrency: number,
  producers: number,
  perProducer: number,
  random: Random,
  report: Report,
): Promise<void> {
  const label = `${face} concurrency ${concurrency}`;
  const started = Date.now();
  const checker = new SequenceChecker(producers, perProducer);
  let running = 0;
  let mostRunning = 0;
  let batches = 0;
  let heaviest = 0;
  const take = (batch: Weighed[]): void => {
    batches++;
    report.check(batch.length >= 1 && batch.length <= SIZE, `${label}: a batch of ${batch.length} items`);
    let bytes = 0;
    for (const item of batch) {
      bytes += item.w;
      checker.accept(item.p, item.s);
    }
    heaviest = Math.max(heaviest, bytes);
    report.check(bytes <= MAX_BYTES, `${label}: a batch of ${bytes} bytes, above maxBytes ${MAX_BYTES}`);
    // A group that fits both limits is whole in one batch: its first and last items are here.
    const groups = new Map<string, number>();
    for (const item of batch) if (item.group) groups.set(item.group, (groups.get(item.group) ?? 0) + 1);
    for (const [group, count] of groups) {
      const size = Number(group.split(':')[2]);
      report.check(count === size, `${label}: group ${group} split (${count} of ${size} items in a batch)`);
    }
  };
  const options = {
    objectMode: true as const,
    size: SIZE,
    highWaterMark: HIGH_WATER_MARK,
    maxBytes: MAX_BYTES,
    sizeOf: (item: Weighed) => item.w,
  };
  let stream: BatchingWritable<Weighed> | AsyncBatchStream<Weighed>;
  if (face === 'BatchingWritable') {
    const writable: BatchingWritable<Weighed> = new BatchingWritable<Weighed>({
      ...options,
      concurrency,
      onBatch: async (batch) => {
        running++;
        mostRunning = Math.max(mostRunning, running);
        report.check(running <= concurrency, `${label}: ${running} calls at once`);
        report.check(
          writable.stats.inFlight === running,
          `${label}: stats.inFlight ${writable.stats.inFlight}, ${running} running`,
        );
        take(batch);
        await delay(random.int(0, 2));
        running--;
      },
    });
    stream = writable;
  } else {
    const transform = new AsyncBatchStream<Weighed>(options);
    transform.on('data', (batch: Weighed[]) => {
      take(batch);
      // A slow reader now and then.
      if (random.int(0, 3) === 0) {
        transform.pause();
        setTimeout(() => transform.resume(), random.int(0, 2));
      }
    });
    stream = transform;
  }
  let waitingBytes = 0;
  const producer = async (p: number): Promise<void> => {
    let s = 0;
    while (s < perProducer) {
      const count = Math.min(perProducer - s, random.int(0, 3) === 0 ? 2 + random.int(0, 2) : 1);
      const items: Weighed[] = [];
      for (let i = 0; i < count; i++) items.push({ p, s: s + i, w: random.int(0, MAX_WEIGHT) });
      s += count;
      let ok: boolean;
      const weight = items.reduce((sum, item) => sum + item.w, 0);
      if (count === 1) {
        ok = stream.write(items[0]);
      } else {
        if (weight <= MAX_BYTES && count <= SIZE) {
          for (const item of items) item.group = `${p}:${items[0].s}:${count}`;
        }
        ok = stream.writeV(items);
      }
      report.check(
        stream.stats.pendingBytes - waitingBytes < BYTE_LIMIT + MAX_WEIGHT * 4,
        `${label}: ${stream.stats.pendingBytes} bytes waiting, ${waitingBytes} of them from producers held back`,
      );
      if (!ok) {
        waitingBytes += weight;
        await stream.ready();
        waitingBytes -= weight;
      } else if (random.int(0, 7) === 0) {
        await new Promise(setImmediate);
      }
    }
  };
  await Promise.all(Array.from({ length: producers }, (_, p) => producer(p)));
  await stream.flush();
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    if (face === 'AsyncBatchStream') stream.once('end', resolve);
    else stream.once('finish', resolve);
  });
  stream.end();
  await ended;
  report.check(checker.faultCount === 0, `${label}: ${checker.faults.join('; ')}`);
  report.check(checker.incomplete() === 0, `${label}: ${checker.incomplete()} producers incomplete`);
  if (face === 'BatchingWritable') {
    report.check(mostRunning <= concurrency, `${label}: ${mostRunning} calls at once`);
    if (concurrency > 1) report.check(mostRunning > 1, `${label}: never more than one call at once`);
  }
  report.figure(`${label}: items`, checker.received);
  report.figure(`${label}: batches`, batches);
  report.figure(`${label}: heaviest batch, bytes`, heaviest);
  report.figure(`${label}: most calls at once`, face === 'BatchingWritable' ? mostRunning : 1);
  report.figure(`${label}: time`, formatMs(Date.now() - started));
}
