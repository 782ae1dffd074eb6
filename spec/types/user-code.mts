// Code a user plausibly writes first, right and wrong, across both classes:
// the compiler must take the right code with exact types and refuse the
// wrong. Compiled by `npm run test:types` (strict, exactOptionalPropertyTypes,
// noUncheckedIndexedAccess), never run.
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AsyncBatchStream,
  BatchingWritable,
  type AsyncBatchStreamOptions,
  type BatchingWritableOptions,
  type BatchStats,
  type ByteMode,
  type ObjectBatchingWritableOptions,
} from 'mwsr';
import type { Equal, Expect } from './equal.mjs';

interface Row {
  id: number;
}
const row: Row = { id: 1 };

// ---- optional settings passed on as `T | undefined` --------------------------

// A setting read from optional configuration is `number | undefined`; the
// constructors treat `undefined` as "not given" (the default), as Node's own
// stream options do, so exactOptionalPropertyTypes must not refuse it.
declare const config: { maxDelay?: number; concurrency?: number; highWaterMark?: number; maxBytes?: number };
const fromConfig = new BatchingWritable({
  size: 1024,
  onBatch: () => {},
  objectMode: undefined,
  maxDelay: config.maxDelay,
  concurrency: config.concurrency,
  highWaterMark: config.highWaterMark,
  maxBytes: undefined,
  sizeOf: undefined,
});
type _fromConfig = Expect<Equal<typeof fromConfig, BatchingWritable<ByteMode>>>;
const rowsFromConfig = new BatchingWritable<Row>({
  objectMode: true,
  size: 10,
  onBatch: () => {},
  maxDelay: config.maxDelay,
  concurrency: config.concurrency,
  maxBytes: config.maxBytes,
  sizeOf: config.maxBytes === undefined ? undefined : (item) => item.id,
});
type _rowsFromConfig = Expect<Equal<typeof rowsFromConfig, BatchingWritable<Row>>>;
const streamFromConfig = new AsyncBatchStream({
  size: 1024,
  objectMode: undefined,
  maxDelay: config.maxDelay,
  readableHighWaterMark: config.highWaterMark,
  concurrency: undefined,
  onBatch: undefined,
});
type _streamFromConfig = Expect<Equal<typeof streamFromConfig, AsyncBatchStream<ByteMode>>>;
const rowStreamFromConfig = new AsyncBatchStream<Row>({
  objectMode: true,
  size: 10,
  maxBytes: config.maxBytes,
  sizeOf: undefined,
});
type _rowStreamFromConfig = Expect<Equal<typeof rowStreamFromConfig, AsyncBatchStream<Row>>>;
// `undefined` is all the refused options take.
// @ts-expect-error concurrency is BatchingWritable's, even from configuration
new AsyncBatchStream({ size: 1024, concurrency: config.concurrency });
// @ts-expect-error maxBytes is for object mode only, even from configuration
new BatchingWritable({ size: 1024, onBatch: () => {}, maxBytes: config.maxBytes });

// ---- misspelled and misplaced options ----------------------------------------

// @ts-expect-error maxDelay, not maxdelay
new BatchingWritable({ size: 1, onBatch: () => {}, maxdelay: 5 });
// @ts-expect-error objectMode, not objectmode
new BatchingWritable({ size: 1, onBatch: () => {}, objectmode: true });
// @ts-expect-error onBatch, not onbatch
new BatchingWritable({ size: 1, onbatch: () => {} });
// @ts-expect-error maxBytes, not maxbytes
new BatchingWritable<Row>({ objectMode: true, size: 1, onBatch: () => {}, maxbytes: 5, sizeOf: () => 1 });
// @ts-expect-error maxDelay, not maxDelays
new AsyncBatchStream({ size: 1, maxDelays: 5 });
// @ts-expect-error readableHighWaterMark is AsyncBatchStream's: a BatchingWritable has no readable side
new BatchingWritable({ size: 1, onBatch: () => {}, readableHighWaterMark: 2 });
// @ts-expect-error nor in typed options
const misplaced: BatchingWritableOptions = { size: 1, onBatch: () => {}, readableHighWaterMark: 2 };
// @ts-expect-error concurrency in AsyncBatchStream's typed options
const noConcurrency: AsyncBatchStreamOptions = { size: 1, concurrency: 2 };
// @ts-expect-error sizeOf without objectMode in typed options
const noWeight: BatchingWritableOptions<Row> = { size: 1, onBatch: () => {}, sizeOf: () => 1 };
// @ts-expect-error a maxDelay is a number of milliseconds
new AsyncBatchStream({ size: 1, maxDelay: '5' });
// @ts-expect-error an objectMode only known at run time picks no mode
new AsyncBatchStream({ size: 1, objectMode: Math.random() > 0.5 });
void [misplaced, noConcurrency, noWeight];

// ---- onBatch -------------------------------------------------------------------

// @ts-expect-error onBatch returns nothing or a promise, not a value
new BatchingWritable({ size: 1, onBatch: () => 42 });
// @ts-expect-error a byte batch is a Buffer, not a string
new BatchingWritable({ size: 1, onBatch: (batch: string) => void batch });
// @ts-expect-error a Row batch is a Row[], not a Buffer
new BatchingWritable<Row>({ objectMode: true, size: 1, onBatch: (batch: Buffer) => void batch });
// @ts-expect-error done takes an Error, and so must the declared parameter
new BatchingWritable({ size: 1, onBatch: (batch, done: (error: string) => void) => void [batch, done] });

// A named function is an onBatch like any other, and gives the item type.
async function save(batch: Row[]): Promise<void> {
  void batch;
}
const saver = new BatchingWritable({ objectMode: true, size: 100, onBatch: save });
type _saver = Expect<Equal<typeof saver, BatchingWritable<Row>>>;
// So is one that takes a readonly array.
const reader = new BatchingWritable({
  objectMode: true,
  size: 100,
  onBatch: (batch: readonly Row[]) => void batch,
});
type _reader = Expect<Equal<typeof reader, BatchingWritable<Row>>>;
// Options from a generic factory keep their item type.
function optionsFor<T>(onBatch: (batch: T[]) => Promise<void>): ObjectBatchingWritableOptions<T> {
  return { objectMode: true, size: 10, onBatch };
}
const fromFactory = new BatchingWritable(optionsFor<Row>(async () => {}));
type _fromFactory = Expect<Equal<typeof fromFactory, BatchingWritable<Row>>>;

// ---- writing -----------------------------------------------------------------

const bytes = new BatchingWritable({ size: 1024, onBatch: () => {} });
const rows = new BatchingWritable<Row>({ objectMode: true, size: 10, onBatch: () => {} });
const group: readonly Row[] = [row, row];
rows.writeV(group);
bytes.writeV(['a', Buffer.from('b')] as const);
const wrote = rows.writeV([row]);
type _wrote = Expect<Equal<typeof wrote, boolean>>;
// @ts-expect-error no objects in byte mode, alone or in a group
bytes.writeV([row]);
// @ts-expect-error a Row stream takes Rows in groups too
rows.writeV(['a']);
// @ts-expect-error undefined is no Row
rows.write(undefined);
// @ts-expect-error end() takes a Row in a Row stream
rows.end(1, () => {});
// @ts-expect-error flush() takes no callback: it returns a promise
bytes.flush(() => {});
// @ts-expect-error nor does ready()
bytes.ready(() => {});

// ---- a Row stream is not a byte stream, and the other way round --------------

// @ts-expect-error a Row sink takes no bytes
const rowsAsBytes: BatchingWritable = rows;
// @ts-expect-error a byte sink takes no Rows
const bytesAsRows: BatchingWritable<Row> = bytes;
// @ts-expect-error nor for AsyncBatchStream
const rowStreamAsBytes: AsyncBatchStream = new AsyncBatchStream<Row>({ objectMode: true, size: 1 });
// Either passes as the stream of unknown items, and as a Writable.
const anySink: BatchingWritable<unknown> = rows;
const anyBytes: BatchingWritable<unknown> = bytes;
const asWritable: Writable = rows;
void [rowsAsBytes, bytesAsRows, rowStreamAsBytes, anySink, anyBytes, asWritable];

// ---- stats -----------------------------------------------------------------

const stats = rows.stats;
type _stats = Expect<Equal<typeof stats, BatchStats>>;
type _batches = Expect<Equal<typeof stats.batches, number>>;
// @ts-expect-error stats is a snapshot to read
rows.stats = stats;
// @ts-expect-error and its figures are read-only
rows.stats.batches = 3;

// ---- reading an AsyncBatchStream ----------------------------------------------

async function reading(): Promise<void> {
  for await (const batch of new AsyncBatchStream<Row>({ objectMode: true, size: 10 })) {
    // @ts-expect-error each step is a batch, a Row[], not a Row
    const one: Row = batch;
    void one;
  }
  for await (const batch of new AsyncBatchStream({ size: 1024 })) {
    // @ts-expect-error a byte batch is a Buffer, not a string
    const text: string = batch;
    void text;
  }
  // Into a function stage: @types/node types a transform stage as iterating
  // `string | Buffer`, so an object-mode stream goes in as a Transform
  // (README: TypeScript).
  const batcher = new AsyncBatchStream<Row>({ objectMode: true, size: 10 });
  await pipeline(Readable.from([row]), batcher as Transform, async (batches: AsyncIterable<Row[]>) => {
    for await (const batch of batches) void batch.length;
  });
}
void reading;

// ---- events ------------------------------------------------------------------

bytes.on('error', (error) => {
  type _ = Expect<Equal<typeof error, Error>>;
});
bytes.on('drain', (...args) => {
  type _ = Expect<Equal<typeof args, []>>;
});
rows.once('finish', () => {});
