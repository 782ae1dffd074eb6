// BatchingWritable's public types, as a strict ES-module user compiles them
// (README: TypeScript). Compiled by `npm run test:types`, never run.
import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import {
  BatchingWritable,
  type BatchDone,
  type BatchingWritableOptions,
  type ByteMode,
  type ObjectBatchingWritableOptions,
} from 'mwsr';
import type { Equal, Expect } from './equal.mjs';

interface Row {
  user: string;
  n: number;
}
const row: Row = { user: 'a', n: 1 };

// ---- byte mode: Buffer batches, byte chunks ---------------------------------

const bytes = new BatchingWritable({
  size: 1024,
  onBatch: (batch) => {
    type _ = Expect<Equal<typeof batch, Buffer>>;
  },
});
type _bytes = Expect<Equal<typeof bytes, BatchingWritable<ByteMode>>>;
type _bare = Expect<Equal<BatchingWritable, BatchingWritable<ByteMode>>>;

bytes.write(Buffer.from('a'));
bytes.write(new Uint8Array(2));
bytes.write('text');
bytes.write('text', 'latin1');
bytes.write('text', 'utf8', (error) => {
  type _ = Expect<Equal<typeof error, Error | null | undefined>>;
});
bytes.write('text', () => {});
bytes.writeV(['a', Buffer.from('b'), new Uint8Array(1)]);
bytes.writeV([], () => {});
bytes.end();
bytes.end('last');
bytes.end(Buffer.from('last'), () => {});
bytes.end('last', 'hex', () => {});

// @ts-expect-error a number is no byte chunk
bytes.write(42);
// @ts-expect-error an object is no byte chunk
bytes.write({});
// @ts-expect-error nor is null
bytes.write(null);
// @ts-expect-error a row is no byte chunk
bytes.write(row);
// @ts-expect-error nor in a group
bytes.writeV([42]);
// @ts-expect-error writeV takes an array
bytes.writeV('a');
// @ts-expect-error end takes byte chunks too
bytes.end(42);
// @ts-expect-error an unknown encoding
bytes.write('a', 'latin2');

// A Buffer batch: no array methods.
new BatchingWritable({
  size: 1,
  onBatch: (batch) => {
    // @ts-expect-error a Buffer batch is no array of rows
    void batch[0].user;
  },
});

// ---- object mode: T[] batches, T items ---------------------------------------

const rows = new BatchingWritable<Row>({
  objectMode: true,
  size: 100,
  onBatch: (batch) => {
    type _ = Expect<Equal<typeof batch, Row[]>>;
    void batch[0]?.user;
  },
});
type _rows = Expect<Equal<typeof rows, BatchingWritable<Row>>>;
rows.write(row);
rows.write(row, () => {});
rows.writeV([row, row]);
rows.end(row);
// @ts-expect-error a string is no Row
rows.write('text');
// @ts-expect-error a Buffer is no Row
rows.write(Buffer.from('a'));
// @ts-expect-error null is never an item
rows.write(null);
// @ts-expect-error nor in a group
rows.writeV([row, null]);
// @ts-expect-error a partial row
rows.write({ user: 'a' });
// @ts-expect-error end takes a Row
rows.end('text');

// The item type inferred from onBatch's parameter.
const inferred = new BatchingWritable({
  objectMode: true,
  size: 10,
  onBatch: (batch: Row[]) => {
    void batch;
  },
});
type _inferred = Expect<Equal<typeof inferred, BatchingWritable<Row>>>;
// @ts-expect-error inferred Row items take no numbers
inferred.write(1);

// No item type: unknown items, never Buffer.
const loose = new BatchingWritable({
  objectMode: true,
  size: 10,
  onBatch: (batch) => {
    type _ = Expect<Equal<typeof batch, unknown[]>>;
    // @ts-expect-error an unknown item has no known fields
    void batch[0].user;
  },
});
type _loose = Expect<Equal<typeof loose, BatchingWritable<unknown>>>;
loose.write(1);
loose.write('a');
loose.write(row);
loose.write(undefined);
// @ts-expect-error null is never an item
loose.write(null);

// A nullable item type still refuses null.
const maybe = new BatchingWritable<Row | null>({ objectMode: true, size: 1, onBatch: () => {} });
// @ts-expect-error null is never an item
maybe.write(null);

// Object mode with Buffer items is object mode, not byte mode.
const buffers = new BatchingWritable<Buffer>({
  objectMode: true,
  size: 1,
  onBatch: (batch) => {
    type _ = Expect<Equal<typeof batch, Buffer[]>>;
  },
});
// @ts-expect-error Buffer items take no strings
buffers.write('a');

// ---- an item type without objectMode: true ---------------------------------

// @ts-expect-error an item type needs objectMode: true
new BatchingWritable<Row>({ size: 10, onBatch: () => {} });
// @ts-expect-error an item type needs objectMode: true, not false
new BatchingWritable<Row>({ size: 10, objectMode: false, onBatch: () => {} });
// @ts-expect-error byte mode hands over a Buffer, not rows
new BatchingWritable({ size: 10, onBatch: (batch: Row[]) => void batch });
// @ts-expect-error objectMode: true hands over arrays, not a Buffer
new BatchingWritable({ objectMode: true, size: 10, onBatch: (batch: Buffer) => void batch });

// ---- options ---------------------------------------------------------------

// @ts-expect-error size is required
new BatchingWritable({ onBatch: () => {} });
// @ts-expect-error onBatch is required
new BatchingWritable({ size: 1 });
// @ts-expect-error size is a number
new BatchingWritable({ size: '1', onBatch: () => {} });
// @ts-expect-error our own hooks cannot be replaced
new BatchingWritable({ size: 1, onBatch: () => {}, write: () => {} });
new BatchingWritable({
  size: 1,
  maxDelay: Infinity,
  highWaterMark: 4,
  signal: AbortSignal.timeout(10),
  defaultEncoding: 'latin1',
  emitClose: false,
  onBatch: async () => {},
});
const byteOptions: BatchingWritableOptions = { size: 1, onBatch: (batch) => void batch };
void byteOptions;
const rowOptions: ObjectBatchingWritableOptions<Row> = { objectMode: true, size: 1, onBatch: () => {} };
new BatchingWritable(rowOptions).write(row);
// Options kept in a variable (README: TypeScript): `as const`, or typed.
const constOptions = { objectMode: true, size: 10, onBatch: async (rows: Row[]) => void rows } as const;
const fromConst = new BatchingWritable(constOptions);
type _fromConst = Expect<Equal<typeof fromConst, BatchingWritable<Row>>>;
const typedOptions: BatchingWritableOptions<Row> = { objectMode: true, size: 10, onBatch: async () => {} };
const fromTyped = new BatchingWritable(typedOptions);
type _fromTyped = Expect<Equal<typeof fromTyped, BatchingWritable<Row>>>;
const widened = { objectMode: true, size: 10, onBatch: async (rows: Row[]) => void rows };
// @ts-expect-error objectMode widened to boolean: no overload takes it
new BatchingWritable(widened);

// onBatch may return anything thenable, or nothing.
new BatchingWritable({ size: 1, onBatch: () => Promise.resolve(42) });

// ---- Node-style onBatch(batch, done) ----------------------------------------

new BatchingWritable({
  size: 1,
  onBatch: (batch, done) => {
    type _b = Expect<Equal<typeof batch, Buffer>>;
    type _d = Expect<Equal<typeof done, BatchDone>>;
    done();
    done(null);
    done(new Error('failed'));
    // @ts-expect-error done takes an Error
    done('failed');
  },
});
new BatchingWritable<Row>({
  objectMode: true,
  size: 1,
  onBatch: (batch, done) => {
    type _ = Expect<Equal<typeof batch, Row[]>>;
    setImmediate(done);
  },
});
new BatchingWritable({
  objectMode: true,
  size: 1,
  onBatch: (batch: Row[], done: BatchDone) => {
    void batch;
    done();
  },
}).write(row);
// @ts-expect-error onBatch takes at most (batch, done)
new BatchingWritable({ size: 1, onBatch: (batch, done, extra: number) => void [batch, done, extra] });

// ---- a Writable like any other ---------------------------------------------

const writable: Writable = bytes;
const rowWritable: Writable = rows;
const nodeWritable: NodeJS.WritableStream = rows;
void [writable, rowWritable, nodeWritable];
async function pipelines(): Promise<void> {
  await pipeline(Readable.from([row]), rows);
  await pipeline(Readable.from(['a']), bytes);
  await finished(rows);
  await rows.flush();
  await rows.ready();
  type _ = Expect<Equal<Awaited<ReturnType<typeof rows.flush>>, void>>;
}
void pipelines;

const something: unknown = rows;
if (something instanceof BatchingWritable) {
  type _ = Expect<Equal<typeof something, BatchingWritable<unknown>>>;
}

// Subclasses pick their mode through the type argument.
class RowSink extends BatchingWritable<Row> {
  count = 0;
}
const sink = new RowSink({ objectMode: true, size: 1, onBatch: (batch) => void batch[0]?.n });
sink.write(row);
// @ts-expect-error a RowSink takes rows
sink.write('a');
// @ts-expect-error a RowSink is in object mode
new RowSink({ size: 1, onBatch: () => {} });
class ByteSink extends BatchingWritable {}
new ByteSink({ size: 1, onBatch: (batch) => void batch.byteLength }).write('a');

// `await using` ends the stream (README: `Symbol.asyncDispose`).
async function disposable(): Promise<void> {
  type _ = Expect<Equal<ReturnType<(typeof bytes)[typeof Symbol.asyncDispose]>, Promise<void>>>;
}
void disposable;

// An `any` item type is object mode with any items, never byte mode.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const anything = new BatchingWritable<any>({ objectMode: true, size: 1, onBatch: () => {} });
anything.write({ any: 'thing' });
anything.writeV([1, 'a', {}]);

// onBatch's item type inferred while done is left to context.
const partly = new BatchingWritable({
  objectMode: true,
  size: 1,
  onBatch: (batch: Row[], done) => {
    type _ = Expect<Equal<typeof done, BatchDone>>;
    void batch;
    done();
  },
});
type _partly = Expect<Equal<typeof partly, BatchingWritable<Row>>>;

// ---- maxBytes, sizeOf and concurrency (docs/semantics.md 22, 23) ------------

new BatchingWritable<Row>({
  objectMode: true,
  size: 500,
  maxBytes: 4_000_000,
  sizeOf: (item) => {
    type _i = Expect<Equal<typeof item, Row>>;
    return item.user.length;
  },
  concurrency: 4,
  onBatch: async () => {},
});
// sizeOf's item type is inferred from onBatch's batch type, and picks it too.
new BatchingWritable({
  objectMode: true,
  size: 10,
  maxBytes: 100,
  sizeOf: (item: Row) => item.user.length,
  onBatch: (batch) => {
    type _b = Expect<Equal<typeof batch, Row[]>>;
  },
});
new BatchingWritable({ size: 1024, concurrency: 2, onBatch: () => {} });
// @ts-expect-error maxBytes is for object mode only
new BatchingWritable({ size: 1024, maxBytes: 10, onBatch: () => {} });
// @ts-expect-error sizeOf is for object mode only
new BatchingWritable({ size: 1024, sizeOf: () => 1, onBatch: () => {} });
new BatchingWritable<Row>({
  objectMode: true,
  size: 10,
  maxBytes: 100,
  // @ts-expect-error sizeOf takes a Row, not a string
  sizeOf: (item: string) => item.length,
  onBatch: () => {},
});
new BatchingWritable<Row>({
  objectMode: true,
  size: 10,
  maxBytes: 100,
  // @ts-expect-error sizeOf returns a number
  sizeOf: (item) => item.user,
  onBatch: () => {},
});
new BatchingWritable<Row>({
  objectMode: true,
  size: 10,
  // @ts-expect-error maxBytes is a number
  maxBytes: '100',
  sizeOf: () => 1,
  onBatch: () => {},
});
// @ts-expect-error concurrency is a number
new BatchingWritable({ size: 1024, concurrency: '4', onBatch: () => {} });
