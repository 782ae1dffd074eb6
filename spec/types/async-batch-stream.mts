// AsyncBatchStream's public types, as a strict ES-module user compiles them
// (README: TypeScript). Compiled by `npm run test:types`, never run.
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncBatchStream, type AsyncBatchStreamOptions, type ByteMode } from 'mwsr';
import type { Equal, Expect } from './equal.mjs';

interface Row {
  user: string;
}
const row: Row = { user: 'a' };

// ---- byte mode -------------------------------------------------------------

const bytes = new AsyncBatchStream({ size: 1024 });
type _bytes = Expect<Equal<typeof bytes, AsyncBatchStream<ByteMode>>>;
type _bare = Expect<Equal<AsyncBatchStream, AsyncBatchStream<ByteMode>>>;
bytes.write('a');
bytes.write(Buffer.from('a'), 'utf8', () => {});
bytes.writeV(['a', new Uint8Array(1)]);
bytes.end('a');
// @ts-expect-error a number is no byte chunk
bytes.write(42);
// @ts-expect-error an object is no byte chunk
bytes.write({});
// @ts-expect-error nor in a group
bytes.writeV([{}]);

async function readBytes(): Promise<void> {
  for await (const batch of bytes) {
    type _ = Expect<Equal<typeof batch, Buffer>>;
  }
}
void readBytes;

// ---- object mode -----------------------------------------------------------

const rows = new AsyncBatchStream<Row>({ objectMode: true, size: 10 });
type _rows = Expect<Equal<typeof rows, AsyncBatchStream<Row>>>;
rows.write(row);
rows.writeV([row]);
rows.end(row);
// @ts-expect-error a string is no Row
rows.write('a');
// @ts-expect-error null is never an item
rows.write(null);

async function readRows(): Promise<void> {
  for await (const batch of rows) {
    type _ = Expect<Equal<typeof batch, Row[]>>;
    void batch[0]?.user;
  }
}
void readRows;

const loose = new AsyncBatchStream({ objectMode: true, size: 10 });
type _loose = Expect<Equal<typeof loose, AsyncBatchStream<unknown>>>;
loose.write(1);
// @ts-expect-error null is never an item
loose.write(null);
async function readLoose(): Promise<void> {
  for await (const batch of loose) {
    type _ = Expect<Equal<typeof batch, unknown[]>>;
  }
}
void readLoose;

// ---- wrong combinations ----------------------------------------------------

// @ts-expect-error an item type needs objectMode: true
new AsyncBatchStream<Row>({ size: 10 });
// @ts-expect-error an item type needs objectMode: true, not false
new AsyncBatchStream<Row>({ size: 10, objectMode: false });
// @ts-expect-error an AsyncBatchStream has no onBatch: read its batches downstream
new AsyncBatchStream({ size: 10, onBatch: () => {} });
// @ts-expect-error nor in object mode
new AsyncBatchStream({ size: 10, objectMode: true, onBatch: () => {} });
const withOnBatch = { size: 10, onBatch: () => {} };
// @ts-expect-error nor from options built elsewhere
new AsyncBatchStream(withOnBatch);
// @ts-expect-error size is required
new AsyncBatchStream({});
// @ts-expect-error our own hooks cannot be replaced
new AsyncBatchStream({ size: 1, transform: () => {} });
new AsyncBatchStream({ size: 1, maxDelay: 5, highWaterMark: 8, readableHighWaterMark: 2 });
const options: AsyncBatchStreamOptions = { size: 1, objectMode: true };
void options;
// Options kept in a variable (README: TypeScript): typed, or `as const`.
const rowOptions: AsyncBatchStreamOptions<Row> = { size: 1, objectMode: true };
const fromTyped = new AsyncBatchStream(rowOptions);
type _fromTyped = Expect<Equal<typeof fromTyped, AsyncBatchStream<Row>>>;
const fromConst = new AsyncBatchStream({ ...({ size: 1, objectMode: true } as const) });
type _fromConst = Expect<Equal<typeof fromConst, AsyncBatchStream<unknown>>>;

// ---- a Transform like any other --------------------------------------------

const transform: Transform = rows;
const duplex: NodeJS.ReadWriteStream = bytes;
void [transform, duplex];
async function pipelines(): Promise<void> {
  await pipeline(Readable.from([row]), rows, new Writable({ objectMode: true, write: (_c, _e, cb) => cb() }));
  await pipeline(Readable.from(['a']), bytes, async (source: AsyncIterable<Buffer>) => {
    for await (const batch of source) void batch;
  });
  await rows.flush();
}
void pipelines;

const something: unknown = rows;
if (something instanceof AsyncBatchStream) {
  type _ = Expect<Equal<typeof something, AsyncBatchStream<unknown>>>;
}

class Rows extends AsyncBatchStream<Row> {}
new Rows({ objectMode: true, size: 1 }).write(row);
// @ts-expect-error Rows are in object mode
new Rows({ size: 1 });
class Bytes extends AsyncBatchStream {}
new Bytes({ size: 1 }).write('a');

// An `any` item type is object mode: batches are arrays.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const anything = new AsyncBatchStream<any>({ objectMode: true, size: 1 });
anything.write({ any: 'thing' });
async function readAnything(): Promise<void> {
  for await (const batch of anything) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    type _ = Expect<Equal<typeof batch, any[]>>;
  }
}
void readAnything;

// ---- maxBytes, sizeOf and concurrency (docs/semantics.md 22, 23) ------------

const weighed = new AsyncBatchStream<Row>({
  objectMode: true,
  size: 10,
  maxBytes: 100,
  sizeOf: (item) => {
    type _i = Expect<Equal<typeof item, Row>>;
    return item.user.length;
  },
});
type _weighed = Expect<Equal<typeof weighed, AsyncBatchStream<Row>>>;
// The item type is inferred from sizeOf.
const inferred = new AsyncBatchStream({
  objectMode: true,
  size: 10,
  maxBytes: 100,
  sizeOf: (item: Row) => 1,
});
type _inferred = Expect<Equal<typeof inferred, AsyncBatchStream<Row>>>;
// @ts-expect-error maxBytes is for object mode only
new AsyncBatchStream({ size: 1024, maxBytes: 10 });
// @ts-expect-error sizeOf is for object mode only
new AsyncBatchStream({ size: 1024, sizeOf: () => 1 });
new AsyncBatchStream<Row>({
  objectMode: true,
  size: 10,
  maxBytes: 100,
  // @ts-expect-error sizeOf takes a Row, not a string
  sizeOf: (item: string) => item.length,
});
// @ts-expect-error concurrency is BatchingWritable's: downstream reads one batch at a time
new AsyncBatchStream({ size: 1024, concurrency: 2 });
// @ts-expect-error nor in object mode
new AsyncBatchStream({ objectMode: true, size: 10, concurrency: 2 });
