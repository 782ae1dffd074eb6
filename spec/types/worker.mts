// WorkerChannel's and WorkerWritable's public types, as a strict ES-module
// user compiles them (docs/workers.md). Compiled by `npm run test:types`,
// never run.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Worker } from 'node:worker_threads';
import { WorkerChannel, WorkerWritable, type WorkerWriterHandle, type WriterEndInfo } from 'mwsr';
import type { Equal, Expect } from './equal.mjs';

const channel = new WorkerChannel({ size: 16384 });
const readable: Readable = channel;
void readable;
const handle = channel.createWriter();
type _handle = Expect<Equal<typeof handle, WorkerWriterHandle>>;
const worker = channel.createWorker(new URL('./writer.js', import.meta.url));
type _worker = Expect<Equal<typeof worker, Worker>>;
channel.on('writerEnd', (info: WriterEndInfo) => void info.clean);
// @ts-expect-error size is required
new WorkerChannel({});

const out = new WorkerWritable(handle);
const writable: Writable = out;
void writable;
out.write(Buffer.from('a'));
out.write(new Uint8Array(1));
out.write(new DataView(new ArrayBuffer(2)));
out.write('text', 'latin1', (error) => {
  type _ = Expect<Equal<typeof error, Error | null | undefined>>;
});
out.write('text', () => {});
out.writeV(['a', Buffer.from('b')], () => {});
out.end();
out.end('last');
out.end(Buffer.from('last'), () => {});
out.end('last', 'hex', () => {});
// @ts-expect-error a number is no byte chunk
out.write(1);
// @ts-expect-error nor is null
out.write(null);
// @ts-expect-error nor an object
out.write({ not: 'bytes' });
// @ts-expect-error end() takes what write() takes
out.end(5);
// @ts-expect-error an encoding is a BufferEncoding
out.write('text', 'utf-9');
// @ts-expect-error writeV takes byte chunks
out.writeV([1]);

const room = out.reserve(64);
type _room = Expect<Equal<typeof room, Buffer | null>>;
if (room !== null) {
  room.write('in place');
  out.commit();
}
const flushed = out.flush();
type _flushed = Expect<Equal<typeof flushed, Promise<void>>>;

// A writer is a pipeline destination like any Writable.
async function pipelines(): Promise<void> {
  await pipeline(Readable.from(['a', 'b']), out);
}
void pipelines;

// ---- events and options a first-time user gets right, and wrong -------------

channel.on('writerEnd', (info) => {
  type _ = Expect<Equal<typeof info, WriterEndInfo>>;
});
channel.once('writerEnd', ({ id, clean }) => {
  type _ = Expect<Equal<[typeof id, typeof clean], [number, boolean]>>;
});
// @ts-expect-error batches are bytes: no object mode
new WorkerChannel({ size: 16384, objectMode: true });
// @ts-expect-error ringSize, not ringsize
new WorkerChannel({ size: 16384, ringsize: 1 << 20 });
// @ts-expect-error a WorkerWritable opens a handle from createWriter(), not options
new WorkerWritable({ size: 16384 });
// @ts-expect-error wake is 'batched' or 'eager'
new WorkerWritable(handle, { wake: 'lazy' });
// @ts-expect-error blocking is a boolean
new WorkerWritable(handle, { blocking: 'yes' });
// Settings passed on from a config that may leave them out, as undefined.
declare const config: {
  ringSize?: number | undefined;
  autoEnd?: boolean | undefined;
  highWaterMark?: number | undefined;
  blocking?: boolean | undefined;
  wake?: 'batched' | 'eager' | undefined;
};
new WorkerChannel({
  size: 16384,
  ringSize: config.ringSize,
  autoEnd: config.autoEnd,
  highWaterMark: config.highWaterMark,
});
new WorkerWritable(handle, { blocking: config.blocking, wake: config.wake });
// Node's own hooks, run after the writer's own steps.
new WorkerWritable(handle, {
  final(callback) {
    type _ = Expect<Equal<typeof callback, (error?: Error | null) => void>>;
    callback();
  },
  destroy(error, callback) {
    callback(error);
  },
});
// @ts-expect-error reserve() takes a byte count
out.reserve('64');
