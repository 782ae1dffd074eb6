import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo } from 'node:net';
import { finished, pipeline, Readable, Writable } from 'node:stream';
import { Worker, type MessagePort } from 'node:worker_threads';
import { WorkerChannel, WorkerWritable, type WriterEndInfo } from '../lib/index';
import {
  MAX_RING_CAPACITY,
  RECORD_LENGTH_MASK,
  RING_HEAD,
  RING_INDEX_OFFSET,
  RING_TAIL,
  RING_TAIL_RECORDS,
  RING_WAIT_BYTES,
  RING_WAKE_BYTES,
} from '../lib/worker/layout';
import { compileFixtures, type CompiledFixtures } from './fixtures/compile-fixtures';
import type { BrokenWriterScript } from './fixtures/worker-broken-writer';
import { SIGNAL, type RaceReport, type RaceScript } from './fixtures/worker-races';
import { WAKE_SIGNAL, type WakeScript } from './fixtures/worker-wake';
import type { WriterScript } from './fixtures/worker-writer';
import { encodeMessage, MessageVerifier } from './fixtures/worker-messages';
import { mustCall } from './support/helpers';

/**
 * lib/worker/ring as the channel sees it: specs replace its `createRing`
 * export for a while (the channel calls it through the module's exports, as
 * CommonJS does), so lib/ needs no option for where cursors start.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ringModule = require('../lib/worker/ring') as { createRing(capacity: number): SharedArrayBuffer };

/** Runs `create` with every ring created meanwhile starting its cursors at `cursor` (mod 2^32). */
function withRingsStartingAt<T>(cursor: number, create: () => T): T {
  const createRing = ringModule.createRing;
  ringModule.createRing = (capacity) => {
    const ring = createRing(capacity);
    const words = new Int32Array(ring, 0, RING_INDEX_OFFSET >> 2);
    words[RING_HEAD] = words[RING_TAIL] = words[RING_TAIL_RECORDS] = cursor | 0;
    return ring;
  };
  try {
    return create();
  } finally {
    ringModule.createRing = createRing;
  }
}

/** Worker scripts, compiled once for this file (in its `before`). */
let fixtures: CompiledFixtures;

/** Channels and workers a spec opened: closed after each, so a failing spec leaves nothing running. */
const opened: { channels: WorkerChannel[]; workers: Worker[] } = { channels: [], workers: [] };

function openChannel(options: ConstructorParameters<typeof WorkerChannel>[0]): WorkerChannel {
  const channel = new WorkerChannel(options);
  opened.channels.push(channel);
  return channel;
}

interface Run {
  writers: number;
  count: number;
  size: number;
  ringSize?: number;
  minLength?: number;
  maxLength?: number;
  groupChance?: number;
  reserveChance?: number;
  corkChance?: number;
  stallChance?: number;
  stallMs?: number;
  spin?: boolean;
  /** Run the deliberately broken writer fixture (publishes before copying) instead. */
  broken?: boolean;
  blocking?: boolean;
  /** Writers with an odd index use `wake: 'eager'`, the others the default. */
  mixWake?: boolean;
  initialCursor?: number;
  /** Hang this writer between copying and publishing message `at` (and later), then terminate it. */
  terminate?: { writer: number; at: number };
}

/** A writer thread's error, with where that writer and the channel stood when it came. */
interface WorkerFailure {
  writer: number;
  /** Code (or name), message and the first frames of the stack, from the writer's thread. */
  error: string;
  /** That writer's messages published (write callback fired) and received by the reader by then. */
  published: number;
  received: number;
  /** The channel then: writers attached, and its stream state. */
  channel: { writerCount: number; destroyed: boolean; ended: boolean; errored: string | null };
  /** Every `'writerEnd'` so far, in order. */
  ends: WriterEndInfo[];
}

interface RunResult {
  verifier: MessageVerifier;
  ends: WriterEndInfo[];
  workerErrors: WorkerFailure[];
  channelError: Error | null;
  /** Per writer: messages whose write callback fired (published, at least). */
  published: number[];
  /** Per writer: the first sequence number of the write it hung in (copied, unpublished), or -1. */
  hungAt: number[];
}

/** Runs `writers` worker threads of the writer fixture into one channel and checks every batch. */
async function runWorkers(run: Run): Promise<RunResult> {
  const channel = openChannel({ size: run.size, ringSize: run.ringSize });
  const verifier = new MessageVerifier(run.size);
  const ends: WriterEndInfo[] = [];
  const workerErrors: WorkerFailure[] = [];
  const progress: Int32Array[] = [];
  const workers: Worker[] = [];
  channel.on('writerEnd', (info) => ends.push(info));
  const handles = withRingsStartingAt(run.initialCursor ?? 0, () =>
    Array.from({ length: run.writers }, () => channel.createWriter()),
  );
  for (const [i, handle] of handles.entries()) {
    const shared = new SharedArrayBuffer(12);
    progress.push(new Int32Array(shared));
    const script: WriterScript | BrokenWriterScript = run.broken
      ? {
          handle,
          count: run.count,
          minLength: run.minLength ?? 28,
          maxLength: run.maxLength ?? 200,
          stallChance: run.stallChance ?? 0,
          stallMs: run.stallMs ?? 0,
        }
      : {
          handle,
          count: run.count,
          hangAt: run.terminate?.writer === i ? run.terminate.at : undefined,
          minLength: run.minLength ?? 28,
          maxLength: run.maxLength ?? 200,
          groupChance: run.groupChance ?? 0.1,
          reserveChance: run.reserveChance ?? 0,
          ...(run.corkChance === undefined ? {} : { corkChance: run.corkChance }),
          stallChance: run.stallChance ?? 0,
          stallMs: run.stallMs ?? 0,
          spin: run.spin ?? false,
          blocking: run.blocking ?? false,
          wake: run.mixWake === true && i % 2 === 1 ? 'eager' : undefined,
          progress: shared,
        };
    const file = run.broken ? fixtures.brokenWriter : fixtures.writer;
    const worker = new Worker(file, { workerData: script, transferList: [handle.port] });
    worker.on('error', (error: NodeJS.ErrnoException) =>
      workerErrors.push({
        writer: i,
        error: [
          `${error.code ?? error.name}: ${error.message}`,
          ...(error.stack ?? '').split('\n').slice(1, 6),
        ]
          .map((line) => line.trim())
          .join(' | '),
        published: Atomics.load(progress[i], 0),
        received: verifier.received.get(i) ?? 0,
        channel: {
          writerCount: channel.writerCount,
          destroyed: channel.destroyed,
          ended: channel.readableEnded,
          errored: channel.errored === null ? null : String(channel.errored),
        },
        ends: [...ends],
      }),
    );
    workers.push(worker);
    opened.workers.push(worker);
  }
  // Not once(): it rejects on 'error', and a failing writer's exit is awaited too.
  const exits = workers.map((worker) => new Promise((resolve) => worker.on('exit', resolve)));
  channel.on('data', (batch: Buffer) => verifier.add(batch));
  const stop = run.terminate;
  if (stop !== undefined) {
    // Terminated only once it hangs between copying a record and publishing it.
    const watch = setInterval(() => {
      if (Atomics.load(progress[stop.writer], 1) !== 1) return;
      clearInterval(watch);
      void workers[stop.writer].terminate();
    }, 2);
  }
  let channelError: Error | null = null;
  await new Promise<void>((resolve) =>
    finished(channel, (error) => {
      channelError = error ?? null;
      resolve();
    }),
  );
  await Promise.all(exits);
  return {
    verifier,
    ends,
    workerErrors,
    channelError,
    published: progress.map((p) => Atomics.load(p, 0)),
    hungAt: progress.map((p) => (Atomics.load(p, 1) === 1 ? Atomics.load(p, 2) : -1)),
  };
}

function expectAllDelivered(result: RunResult, writers: number, count: number): void {
  // Together, so a writer's failure caused by the channel's (or the reverse) shows both.
  expect({ workerErrors: result.workerErrors, channelError: result.channelError }).to.deep.equal({
    workerErrors: [],
    channelError: null,
  });
  result.verifier.expectCounts(new Map(Array.from({ length: writers }, (_, i) => [i, count])));
  expect(result.verifier.problems).to.deep.equal([]);
  expect(result.ends.map((end) => end.id).sort()).to.deep.equal(Array.from({ length: writers }, (_, i) => i));
  expect(result.ends.every((end) => end.clean)).to.equal(true);
}

/** Node's `destroy` option. */
type DestroyOption = (error: Error | null, callback: (error?: Error | null) => void) => void;

/** Collects a channel's batches as they come. */
function collect(channel: WorkerChannel): Buffer[] {
  const batches: Buffer[] = [];
  channel.on('data', (batch: Buffer) => batches.push(batch));
  return batches;
}

/** Reads the channel until the writer's 'drain', then ends the writer: every byte the reader got. */
async function readPastDrain(channel: WorkerChannel, writer: WorkerWritable): Promise<Buffer> {
  const drained = once(writer, 'drain');
  const batches = collect(channel);
  await drained;
  writer.end();
  await once(channel, 'end');
  return Buffer.concat(batches);
}

/** Resolves after pending immediates (a waitAsync wake is a task, so give it turns). */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('WorkerChannel and WorkerWritable', () => {
  before(() => {
    fixtures = compileFixtures();
  });
  after(() => fixtures.remove());
  afterEach(async () => {
    for (const channel of opened.channels.splice(0)) channel.destroy();
    await Promise.all(opened.workers.splice(0).map((worker) => worker.terminate()));
  });

  describe('worker threads writing in parallel', () => {
    for (const writers of [1, 2, 4, 8]) {
      it(`delivers every message of ${writers} writer thread(s) exactly once, in per-writer order, intact`, async () => {
        const count = Math.floor(40000 / writers);
        const result = await runWorkers({ writers, count, size: 4096, ringSize: 16384 });
        expectAllDelivered(result, writers, count);
      });
    }

    it('survives 4 KiB rings with random stalls between reserving and publishing, reserve() and commit() and corked runs among writes, eager and batched writers mixed', async () => {
      const result = await runWorkers({
        mixWake: true,
        writers: 3,
        count: 2000,
        size: 1024,
        ringSize: 4096,
        maxLength: 400,
        groupChance: 0.2,
        reserveChance: 0.3,
        corkChance: 0.2,
        stallChance: 0.05,
        stallMs: 2,
      });
      expectAllDelivered(result, 3, 2000);
    });

    it('delivers messages larger than the ring whole, and in blocking mode (reserve() blocking too)', async () => {
      const result = await runWorkers({
        writers: 2,
        count: 500,
        size: 2048,
        ringSize: 1024,
        minLength: 28,
        maxLength: 5000,
        groupChance: 0.2,
        reserveChance: 0.2,
        blocking: true,
      });
      expectAllDelivered(result, 2, 500);
    });

    for (const [name, cursor] of [
      ['2^31', 2 ** 31],
      ['2^32', 2 ** 32],
    ] as const) {
      it(`keeps order and integrity as the cursors wrap near ${name}`, async () => {
        const result = await runWorkers({
          writers: 2,
          count: 4000,
          size: 1024,
          ringSize: 4096,
          initialCursor: cursor - 2048,
          groupChance: 0.2,
          reserveChance: 0.2,
          stallChance: 0.02,
          stallMs: 1,
        });
        expectAllDelivered(result, 2, 4000);
      });
    }

    it('loses only the unpublished record of a writer terminated mid-write, and reports its end', async () => {
      const result = await runWorkers({
        writers: 2,
        count: 3000,
        size: 2048,
        ringSize: 4096,
        groupChance: 0.2,
        reserveChance: 0.2,
        stallChance: 0.2,
        stallMs: 0.05,
        spin: true,
        terminate: { writer: 0, at: 2000 },
      });
      expect(result.workerErrors).to.deep.equal([]);
      expect(result.channelError).to.equal(null);
      // Writer 0 was terminated between copying the write holding message
      // 2000 and publishing it: exactly the messages before that write
      // arrived, intact and in order (the verifier checks for gaps).
      const hungAt = result.hungAt[0];
      expect(hungAt).to.be.within(1997, 2000);
      expect(result.verifier.problems).to.deep.equal([]);
      expect(result.verifier.received.get(0)).to.equal(hungAt);
      expect(result.verifier.received.get(1)).to.equal(3000);
      const ends = new Map(result.ends.map((end) => [end.id, end.clean]));
      expect(ends).to.deep.equal(
        new Map([
          [0, false],
          [1, true],
        ]),
      );
    });

    it('catches torn records from a writer that publishes before copying (the specs can fail)', async () => {
      const result = await runWorkers({
        writers: 2,
        count: 1000,
        size: 1024,
        ringSize: 4096,
        stallChance: 0.3,
        stallMs: 1,
        broken: true,
      });
      const caught = result.verifier.problems.length > 0 || result.channelError !== null;
      expect(caught, 'a torn record went unnoticed').to.equal(true);
    });

    it('lets the process exit by itself once every writer has ended or died', async () => {
      const child = spawn(process.execPath, [fixtures.exitCheck], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (data: Buffer) => (output += data.toString()));
      const timer = setTimeout(() => child.kill(), 15000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(timer);
      expect(output.trim()).to.equal('ok 200 0:true 1:false');
      expect(code).to.equal(0);
    });
  });

  describe('in one thread (writers on the reader thread)', () => {
    it('runs a final option once the reader has taken every write, before finish, as a plain Writable runs it', async () => {
      /** `make` gets the final option, and where the sink's bytes go. */
      type Make = (final: (callback: () => void) => void, sink: (chunk: Buffer) => void) => Writable;
      const traceOf = async (make: Make): Promise<string[]> => {
        const trace: string[] = [];
        let seen = '';
        const stream = make(
          (callback) => {
            trace.push(`final after ${seen}`);
            callback();
          },
          (chunk) => (seen += chunk.toString()),
        );
        stream.on('finish', () => trace.push('finish'));
        stream.write('ab');
        stream.end('cd', () => trace.push('end callback'));
        await once(stream, 'close');
        return trace;
      };
      const node = await traceOf(
        (final, sink) =>
          new Writable({
            write(chunk: Buffer, _encoding, callback) {
              sink(chunk);
              callback();
            },
            final,
          }),
      );
      const channel = openChannel({ size: 64 });
      const ours = await traceOf((final, sink) => {
        channel.on('data', sink);
        return new WorkerWritable(channel.createWriter(), { final });
      });
      expect(node).to.have.members(['final after abcd', 'end callback', 'finish']).and.to.have.lengthOf(3);
      expect(node[0]).to.equal('final after abcd');
      expect(ours).to.deep.equal(node);
      channel.destroy();
    });

    it('runs a destroy option after its own _destroy, and takes the error it calls back with', async () => {
      const traceOf = async (make: (destroy: DestroyOption) => Writable): Promise<string[]> => {
        const trace: string[] = [];
        const stream = make((error, callback) => {
          trace.push(`destroy ${error?.message ?? 'null'}`);
          callback(new Error('replaced'));
        });
        stream.on('error', (error) => trace.push(`error ${error.message}`));
        // Not events.once: it rejects on 'error'.
        const closed = new Promise((resolve) => stream.once('close', resolve));
        stream.destroy(new Error('first'));
        await closed;
        return trace;
      };
      const node = await traceOf(
        (destroy) => new Writable({ write: (_c, _e, callback) => callback(), destroy }),
      );
      const channel = openChannel({ size: 64 });
      const ours = await traceOf((destroy) => new WorkerWritable(channel.createWriter(), { destroy }));
      expect(node).to.deep.equal(['destroy first', 'error replaced']);
      expect(ours).to.deep.equal(node);
      channel.destroy();
    });

    it('is a stream.Readable of Buffers, and its writable a stream.Writable', () => {
      const channel = openChannel({ size: 64 });
      const writer = new WorkerWritable(channel.createWriter());
      expect(channel).to.be.instanceOf(Readable);
      expect(writer).to.be.instanceOf(Writable);
      channel.destroy();
    });

    it('returns false from write() when the ring is full, and emits drain once the reader frees space', async () => {
      const channel = openChannel({ size: 256, ringSize: 1024 });
      const writer = new WorkerWritable(channel.createWriter());
      const message = Buffer.alloc(64, 1); // 16 fill the ring
      const results: boolean[] = [];
      for (let i = 0; i < 17; i++) results.push(writer.write(message));
      expect(results.slice(0, 16)).to.deep.equal(new Array(16).fill(true));
      expect(results[16]).to.equal(false);
      expect(writer.writableNeedDrain).to.equal(true);
      const drained = once(writer, 'drain');
      const batches = collect(channel);
      await drained;
      expect(writer.writableNeedDrain).to.equal(false);
      writer.end();
      await once(channel, 'end');
      expect(Buffer.concat(batches)).to.deep.equal(Buffer.alloc(64 * 17, 1));
      expect(batches.every((batch) => batch.length <= 256)).to.equal(true);
    });

    it('keeps plain writes behind a write that waits for ring space, even those that would fit', async () => {
      const channel = openChannel({ size: 256, ringSize: 1024 });
      const writer = new WorkerWritable(channel.createWriter());
      for (let i = 0; i < 15; i++) expect(writer.write(Buffer.alloc(64, 1))).to.equal(true);
      // 64 bytes free: the 128-byte write waits; each 16-byte one would fit.
      expect(writer.write(Buffer.alloc(128, 2))).to.equal(false);
      expect([writer.write(Buffer.alloc(16, 3)), writer.write(Buffer.alloc(16, 4))]).to.deep.equal([
        false,
        false,
      ]);
      expect(writer.writableLength).to.equal(128 + 32);
      expect((await readPastDrain(channel, writer)).subarray(960)).to.deep.equal(
        Buffer.concat([Buffer.alloc(128, 2), Buffer.alloc(16, 3), Buffer.alloc(16, 4)]),
      );
    });

    it('returns false from writeV() when its group waits for ring space (regression: decided before uncork)', async () => {
      const channel = openChannel({ size: 256, ringSize: 1024 });
      const writer = new WorkerWritable(channel.createWriter());
      for (let i = 0; i < 15; i++) expect(writer.write(Buffer.alloc(64, 2))).to.equal(true);
      expect(writer.writeV([Buffer.alloc(64, 3), Buffer.alloc(64, 4)])).to.equal(false);
      expect((await readPastDrain(channel, writer)).subarray(960)).to.deep.equal(
        Buffer.concat([Buffer.alloc(64, 3), Buffer.alloc(64, 4)]),
      );
    });

    it('keeps a writeV group of at most size bytes in one batch, and a larger one free of other writers', async () => {
      const channel = openChannel({ size: 300 });
      const a = new WorkerWritable(channel.createWriter());
      const b = new WorkerWritable(channel.createWriter());
      const verifier = new MessageVerifier(300);
      a.write(encodeMessage(0, 0, 200));
      a.writeV([0, 1].map((index) => encodeMessage(0, 1 + index, 100, { index, size: 2, bytes: 200 })));
      a.writeV([0, 1, 2, 3].map((index) => encodeMessage(0, 3 + index, 150, { index, size: 4, bytes: 600 })));
      b.write(encodeMessage(1, 0, 250));
      b.writeV([0, 1, 2].map((index) => encodeMessage(1, 1 + index, 120, { index, size: 3, bytes: 360 })));
      a.end();
      b.end();
      channel.on('data', (batch: Buffer) => verifier.add(batch));
      await once(channel, 'end');
      verifier.expectCounts(
        new Map([
          [0, 7],
          [1, 4],
        ]),
      );
      expect(verifier.problems).to.deep.equal([]);
    });

    it('takes in writeV() what write() takes: strings and any ArrayBufferView, as its bytes', async () => {
      const channel = openChannel({ size: 64 });
      const writer = new WorkerWritable(channel.createWriter());
      const batches = collect(channel);
      const view = new Int16Array([0x4241, 0x4443]); // 'ABCD' in little endian
      const yz = Buffer.from('yz');
      writer.writeV(['x', view, new DataView(yz.buffer, yz.byteOffset, 2)]);
      expect(() => writer.writeV([new ArrayBuffer(2) as never]))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
      writer.end();
      await once(channel, 'end');
      expect(Buffer.concat(batches).toString()).to.equal('xABCDyz');
    });

    it('calls back an empty writeV group, and writes nothing for it', async () => {
      const channel = openChannel({ size: 16 });
      const writer = new WorkerWritable(channel.createWriter());
      const batches = collect(channel);
      await new Promise<void>((resolve) =>
        writer.writeV(
          [],
          mustCall(() => resolve()),
        ),
      );
      writer.end();
      await once(channel, 'end');
      expect(batches).to.deep.equal([]);
    });

    it('hands a write of size bytes or more on alone, whole', async () => {
      const channel = openChannel({ size: 100, ringSize: 1024 });
      const writer = new WorkerWritable(channel.createWriter());
      const batches = collect(channel);
      writer.write('ab');
      writer.write(Buffer.alloc(3000, 7));
      writer.write('cd');
      writer.end();
      await once(channel, 'end');
      expect(batches.map((batch) => batch.length)).to.deep.equal([2, 3000, 2]);
      expect(batches[1]).to.deep.equal(Buffer.alloc(3000, 7));
    });

    it('resolves flush() once the reader has taken everything written before it', async () => {
      const channel = openChannel({ size: 64 });
      const writer = new WorkerWritable(channel.createWriter());
      const batches: Buffer[] = [];
      writer.write('hello');
      const flushed = writer.flush();
      let done = false;
      void flushed.then(() => (done = true));
      await turns();
      expect(done).to.equal(false); // nobody reads yet
      channel.on('data', (batch: Buffer) => batches.push(batch));
      await flushed;
      expect(Buffer.concat(batches).toString()).to.equal('hello');
      writer.end();
      await once(channel, 'end');
    });

    it("reports each writer's end: clean after end(), not after destroy()", async () => {
      const channel = openChannel({ size: 64 });
      const ends: WriterEndInfo[] = [];
      channel.on('writerEnd', (info) => ends.push(info));
      const a = new WorkerWritable(channel.createWriter());
      const b = new WorkerWritable(channel.createWriter());
      const batches = collect(channel);
      a.write('a1');
      b.write('b1');
      await turns();
      b.destroy();
      a.end('a2');
      await once(channel, 'end');
      expect(ends.sort((x, y) => x.id - y.id)).to.deep.equal([
        { id: 0, clean: true },
        { id: 1, clean: false },
      ]);
      const text = Buffer.concat(batches).toString();
      expect(text).to.have.length(6);
      expect(text).to.include('b1');
      expect(text.indexOf('a1')).to.be.below(text.indexOf('a2'));
    });

    it('ends only after seal() with autoEnd: false', async () => {
      const channel = openChannel({ size: 64, autoEnd: false });
      const writer = new WorkerWritable(channel.createWriter());
      collect(channel);
      let ended = false;
      channel.on('end', () => (ended = true));
      writer.end('x');
      await once(channel, 'writerEnd');
      await turns();
      expect(ended).to.equal(false);
      channel.seal();
      await once(channel, 'end');
      expect(() => channel.createWriter())
        .to.throw(Error, /^Invalid state: the channel is sealed/)
        .with.property('code', 'ERR_INVALID_STATE');
    });

    it('refuses createWriter() after the end with ERR_INVALID_STATE, after destroy() with ERR_STREAM_DESTROYED', async () => {
      const channel = openChannel({ size: 64 });
      collect(channel);
      new WorkerWritable(channel.createWriter()).end('x');
      await once(channel, 'end');
      expect(() => channel.createWriter())
        .to.throw(Error, /^Invalid state: the channel has ended/)
        .with.property('code', 'ERR_INVALID_STATE');
      const destroyed = openChannel({ size: 64 });
      destroyed.destroy();
      expect(() => destroyed.createWriter())
        .to.throw(Error, /after a stream was destroyed/)
        .with.property('code', 'ERR_STREAM_DESTROYED');
    });

    it('fails writes with ERR_STREAM_DESTROYED once the channel is destroyed', async () => {
      const channel = openChannel({ size: 64, ringSize: 1024 });
      const writer = new WorkerWritable(channel.createWriter());
      writer.on('error', () => {});
      // Fill the ring so one write is held when the reader goes away.
      while (writer.write(Buffer.alloc(100))) {
        /* fill */
      }
      const failed = new Promise<Error>((resolve) =>
        writer.write('late', (error) => resolve(error as Error)),
      );
      channel.destroy();
      const error = await failed;
      expect(error).to.have.property('code', 'ERR_STREAM_DESTROYED');
      expect(writer.destroyed).to.equal(true);
    });

    for (const [kind, chunk] of [
      ['strings', 'after'],
      ['Buffers', Buffer.from('after')],
    ] as const) {
      it(`destroys the writable as soon as a write finds the channel destroyed, so a loop checking destroyed stops there (${kind})`, async () => {
        const channel = openChannel({ size: 64 });
        const writer = new WorkerWritable(channel.createWriter());
        const errors: Error[] = [];
        writer.on('error', (error) => errors.push(error));
        expect(writer.write(chunk)).to.equal(true);
        channel.destroy();
        let writes = 0;
        while (!writer.destroyed && writes < 1000) {
          writer.write(chunk);
          writes++;
        }
        expect(writes).to.equal(1);
        expect(writer.errored).to.have.property('code', 'ERR_STREAM_DESTROYED');
        expect(writer.write(chunk)).to.equal(false);
        await turns();
        expect(errors.map((error) => (error as NodeJS.ErrnoException).code)).to.deep.equal([
          'ERR_STREAM_DESTROYED',
        ]);
      });
    }

    it('destroys itself with RangeError ERR_OUT_OF_RANGE when a ring is corrupt (a writer broke the protocol)', async () => {
      const channel = openChannel({ size: 64 });
      const { ring } = channel.createWriter();
      // An empty record published by hand: records are never empty.
      const words = new Int32Array(ring, 0, RING_INDEX_OFFSET >> 2);
      new Int32Array(ring, RING_INDEX_OFFSET, 1)[0] = 0;
      Atomics.store(words, RING_HEAD, 8);
      collect(channel);
      const [error] = (await once(channel, 'error')) as [NodeJS.ErrnoException];
      expect(error).to.be.instanceOf(RangeError);
      expect(error.code).to.equal('ERR_OUT_OF_RANGE');
      expect(error.message).to.match(/record length/);
    });

    it('pipes batches into a socket with stream.pipeline', async () => {
      const server = createServer();
      const received: Buffer[] = [];
      server.on('connection', (socket) => socket.on('data', (data: Buffer) => received.push(data)));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      await once(socket, 'connect');
      const channel = openChannel({ size: 512 });
      const writer = new WorkerWritable(channel.createWriter());
      const piped = new Promise<void>((resolve, reject) =>
        pipeline(channel, socket, (e) => (e ? reject(e) : resolve())),
      );
      const expected: Buffer[] = [];
      for (let i = 0; i < 200; i++) {
        const chunk = Buffer.from(`line ${i}\n`);
        expected.push(chunk);
        if (!writer.write(chunk)) await once(writer, 'drain');
      }
      writer.end();
      await piped;
      await new Promise((resolve) => setTimeout(resolve, 20));
      server.close();
      expect(Buffer.concat(received)).to.deep.equal(Buffer.concat(expected));
    });

    it('destroys a writer opened with an aborted signal with AbortError, as Node does, and the channel still ends', async () => {
      const channel = openChannel({ size: 64 });
      const ended = once(channel, 'end');
      const writerEnd = once(channel, 'writerEnd');
      collect(channel);
      const writer = new WorkerWritable(channel.createWriter(), { signal: AbortSignal.abort() });
      const [error] = (await once(writer, 'error')) as [Error];
      expect(error.name).to.equal('AbortError');
      expect(writer.destroyed).to.equal(true);
      const [end] = (await writerEnd) as [{ clean: boolean }];
      expect(end.clean).to.equal(false);
      await ended;
    });

    it('opens a handle only once: the second time is ERR_INVALID_STATE, and leaves the first alone', () => {
      const channel = openChannel({ size: 64 });
      const handle = channel.createWriter();
      new WorkerWritable(handle, { wake: 'eager' });
      const words = new Int32Array(handle.ring, 0, RING_WAKE_BYTES + 1);
      expect(Atomics.load(words, RING_WAKE_BYTES), 'eager: 0 in the ring').to.equal(0);
      expect(() => new WorkerWritable(handle))
        .to.throw(Error, /^Invalid state: writer handle 0 was opened before/)
        .with.property('code', 'ERR_INVALID_STATE');
      expect(Atomics.load(words, RING_WAKE_BYTES), "still the first writer's policy").to.equal(0);
      channel.destroy();
    });
  });

  describe('reserve() and commit(): messages built in the ring', () => {
    /** Reserves `text.length` bytes and writes `text` there. */
    function put(writer: WorkerWritable, text: string): void {
      const view = writer.reserve(text.length);
      expect(view, `room for ${text}`).to.be.instanceOf(Buffer);
      view!.write(text, 'latin1');
    }

    it('shows nothing before commit(), then each reservation as one message, in order with write()s', async () => {
      const channel = openChannel({ size: 64 });
      const writer = new WorkerWritable(channel.createWriter());
      const batches = collect(channel);
      writer.write('w1');
      put(writer, 'r1');
      put(writer, 'r2');
      await turns();
      expect(Buffer.concat(batches).toString()).to.equal('w1');
      writer.commit();
      writer.write('w2');
      writer.end();
      await once(channel, 'end');
      expect(Buffer.concat(batches).toString()).to.equal('w1r1r2w2');
    });

    // One queued write reaches _write, two reach _writev: each must pay the 'drain' owed.
    for (const queued of [['w1'], ['w1', 'w2']]) {
      it(`returns null while Node still queues ${queued.length} earlier write(s) (a construct step), then 'drain', then reserves after them`, async () => {
        const channel = openChannel({ size: 64 });
        let construct!: () => void;
        const constructing = new Promise<void>((resolve) => {
          construct = resolve;
        });
        let constructed!: () => void;
        const writer = new WorkerWritable(channel.createWriter(), {
          construct: (callback) => {
            constructed = callback;
            construct();
          },
        });
        const batches = collect(channel);
        for (const text of queued) expect(writer.write(Buffer.from(text))).to.equal(true);
        expect(writer.writableLength).to.equal(2 * queued.length);
        expect(writer.reserve(2)).to.equal(null);
        const drained = once(writer, 'drain');
        await constructing; // Node calls construct a tick later
        constructed();
        await drained;
        put(writer, 'r1');
        writer.commit();
        writer.end();
        await once(channel, 'end');
        expect(Buffer.concat(batches).toString()).to.equal(`${queued.join('')}r1`);
      });
    }

    it('keeps a reservation contiguous across the end of the ring: padding the reader skips', async () => {
      const channel = openChannel({ size: 4096, ringSize: 1024 });
      const writer = new WorkerWritable(channel.createWriter());
      const batches = collect(channel);
      const expected: string[] = [];
      for (let i = 0; i < 40; i++) {
        const text = String(i % 10).repeat(300 + i); // positions wrap every few
        let view = writer.reserve(text.length);
        while (view === null) {
          await once(writer, 'drain');
          view = writer.reserve(text.length);
        }
        expect(view.length).to.equal(text.length);
        view.write(text, 'latin1');
        writer.commit();
        expected.push(text);
      }
      writer.end();
      await once(channel, 'end');
      expect(Buffer.concat(batches).toString()).to.equal(expected.join(''));
    });

    it("returns null when the ring is full, then 'drain' once the reader has freed room", async () => {
      const channel = openChannel({ size: 256, ringSize: 1024 });
      const writer = new WorkerWritable(channel.createWriter());
      for (let i = 0; i < 16; i++) put(writer, 'x'.repeat(64));
      writer.commit();
      expect(writer.reserve(64)).to.equal(null);
      const drained = once(writer, 'drain');
      const batches = collect(channel);
      await drained;
      put(writer, 'y'.repeat(64));
      writer.commit();
      writer.end();
      await once(channel, 'end');
      expect(Buffer.concat(batches).toString()).to.equal('x'.repeat(1024) + 'y'.repeat(64));
    });

    it('drops reservations not committed at end(), and at destroy()', async () => {
      const channel = openChannel({ size: 64 });
      const ended = new WorkerWritable(channel.createWriter());
      const destroyed = new WorkerWritable(channel.createWriter());
      const batches = collect(channel);
      put(ended, 'kept');
      ended.commit();
      put(ended, 'lost');
      ended.end();
      put(destroyed, 'lost too');
      destroyed.destroy();
      await once(channel, 'end');
      expect(Buffer.concat(batches).toString()).to.equal('kept');
    });

    it('fails reserve() with ERR_STREAM_DESTROYED once the channel is destroyed, and destroys the writable', async () => {
      const channel = openChannel({ size: 64 });
      const writer = new WorkerWritable(channel.createWriter());
      const errored = once(writer, 'error');
      put(writer, 'ok');
      writer.commit();
      channel.destroy();
      expect(() => writer.reserve(2))
        .to.throw(Error)
        .with.property('code', 'ERR_STREAM_DESTROYED');
      expect(writer.destroyed).to.equal(true);
      const [error] = (await errored) as [NodeJS.ErrnoException];
      expect(error.code).to.equal('ERR_STREAM_DESTROYED');
    });

    it('refuses a bad length, a corked stream, write() over open reservations, and use after end()', () => {
      const channel = openChannel({ size: 64, ringSize: 1024 });
      const writer = new WorkerWritable(channel.createWriter());
      writer.on('error', () => {}); // end() fails once the channel is destroyed below
      for (const length of [0, -1, 1.5, 1025, '8' as never]) {
        expect(() => writer.reserve(length))
          .to.throw(RangeError)
          .with.property('code', 'ERR_OUT_OF_RANGE');
      }
      writer.cork();
      expect(() => writer.reserve(8))
        .to.throw(Error)
        .with.property('code', 'ERR_INVALID_STATE');
      writer.uncork();
      put(writer, 'open');
      for (const chunk of ['x', Buffer.from('x')]) {
        expect(() => writer.write(chunk))
          .to.throw(Error)
          .with.property('code', 'ERR_INVALID_STATE');
      }
      expect(() => writer.writeV(['x']))
        .to.throw(Error)
        .with.property('code', 'ERR_INVALID_STATE');
      writer.commit();
      writer.end();
      expect(() => writer.reserve(8))
        .to.throw(Error)
        .with.property('code', 'ERR_STREAM_WRITE_AFTER_END');
      channel.destroy();
    });
  });

  describe('createWorker()', () => {
    it('starts a writer thread with its handle in workerData.handle and its port transferred', async () => {
      const channel = openChannel({ size: 4096, ringSize: 4096 });
      const verifier = new MessageVerifier(4096);
      channel.on('data', (batch: Buffer) => verifier.add(batch));
      const progress = new SharedArrayBuffer(12);
      const script: Omit<WriterScript, 'handle'> = {
        count: 300,
        minLength: 28,
        maxLength: 200,
        groupChance: 0.1,
        stallChance: 0,
        stallMs: 0,
        spin: false,
        blocking: false,
        progress,
      };
      const worker = channel.createWorker(fixtures.writer, { workerData: script });
      opened.workers.push(worker);
      // 'end' may follow 'writerEnd' before an await resumes: listen first.
      const ended = once(channel, 'end');
      const [info] = (await once(channel, 'writerEnd')) as [WriterEndInfo];
      await ended;
      expect(info).to.deep.equal({ id: 0, clean: true });
      verifier.expectCounts(new Map([[0, 300]]));
      expect(verifier.problems).to.deep.equal([]);
    });

    it('refuses a workerData that is not a plain object, or already has a handle, before creating a writer', () => {
      const channel = openChannel({ size: 64 });
      for (const workerData of [5, 'x', [1], null, { handle: 1 }]) {
        expect(() => channel.createWorker(fixtures.writer, { workerData }))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_TYPE');
      }
      expect(() => channel.createWorker(fixtures.writer, 'options' as never))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(channel.writerCount).to.equal(0);
    });

    it('drops the handle when Node refuses to start the worker, so the channel neither waits for it nor ends', async () => {
      const channel = openChannel({ size: 64 });
      const ends: WriterEndInfo[] = [];
      channel.on('writerEnd', (info) => ends.push(info));
      expect(() => channel.createWorker('writer.js'))
        .to.throw(TypeError)
        .with.property('code', 'ERR_WORKER_PATH');
      expect(channel.writerCount).to.equal(0);
      await turns();
      expect(ends).to.deep.equal([]);
      expect(channel.readableEnded).to.equal(false);
      const writer = new WorkerWritable(channel.createWriter());
      expect(writer.writerId).to.equal(0);
      channel.destroy();
      writer.destroy();
    });
  });

  describe('waking the reader (the wake option)', () => {
    /**
     * Starts the wake fixture: once the reader sleeps, the writer writes
     * `bytes` and stays busy in that turn until `release()`.
     */
    async function busyWriter(
      wake: WakeScript['wake'],
      bytes: number,
    ): Promise<{
      channel: WorkerChannel;
      batches: Buffer[];
      /** True while the writer is still in the turn of its write (not released, not timed out). */
      busy(): boolean;
      end(): Promise<unknown>;
      release(): void;
    }> {
      const channel = openChannel({ size: 1024, ringSize: 4096 });
      const batches = collect(channel);
      const ended = once(channel, 'end');
      const handle = channel.createWriter();
      const signals = new Int32Array(new SharedArrayBuffer(12));
      const script: WakeScript = { handle, wake, bytes, signals: signals.buffer };
      const worker = new Worker(fixtures.wake, { workerData: script, transferList: [handle.port] });
      opened.workers.push(worker);
      worker.on('error', (error) => expect.fail(String(error)));
      // Many turns after the reader found nothing: it sleeps on the doorbell.
      await once(worker, 'message');
      worker.postMessage('go');
      const wait = Atomics.waitAsync(signals, WAKE_SIGNAL.written, 0, 10_000);
      if (wait.async) expect(await wait.value).to.equal('ok');
      return {
        channel,
        batches,
        busy: () =>
          Atomics.load(signals, WAKE_SIGNAL.release) === 0 &&
          Atomics.load(signals, WAKE_SIGNAL.timedOut) === 0,
        end: () => {
          worker.postMessage('end');
          return ended;
        },
        release: () => {
          Atomics.store(signals, WAKE_SIGNAL.release, 1);
          Atomics.notify(signals, WAKE_SIGNAL.release);
        },
      };
    }

    it("'batched' (the default) defers a small write's wake-up to the end of the writer's turn", async () => {
      const writer = await busyWriter('batched', 64);
      await turns(10);
      expect(writer.batches, 'delivered while the writer was still in its turn').to.deep.equal([]);
      const delivered = once(writer.channel, 'data');
      writer.release(); // the turn ends; the writer has not ended, so only its turn end can wake the reader
      const [batch] = (await delivered) as [Buffer];
      expect(batch).to.deep.equal(Buffer.alloc(64, 7));
      await writer.end();
    });

    it("'batched' wakes the reader at once when a quarter of the ring waits", async () => {
      const writer = await busyWriter('batched', 1024);
      // The writer is still in its turn: only the threshold can have woken the reader.
      while (writer.batches.length === 0) await once(writer.channel, 'data');
      expect(writer.busy(), 'delivered only once the writer had left its turn').to.equal(true);
      expect(Buffer.concat(writer.batches)).to.deep.equal(Buffer.alloc(1024, 7));
      writer.release();
      await writer.end();
    });

    it("'eager' wakes the reader at every publish, even in the middle of the writer's turn", async () => {
      const writer = await busyWriter('eager', 64);
      while (writer.batches.length === 0) await once(writer.channel, 'data');
      expect(writer.busy(), 'delivered only once the writer had left its turn').to.equal(true);
      expect(writer.batches).to.deep.equal([Buffer.alloc(64, 7)]);
      writer.release();
      await writer.end();
    });

    it('refuses a wake other than batched or eager with TypeError ERR_INVALID_ARG_VALUE, as Node refuses a value outside a set', () => {
      const channel = openChannel({ size: 64 });
      const handle = channel.createWriter();
      expect(() => new WorkerWritable(handle, { wake: 'lazy' as never }))
        .to.throw(
          TypeError,
          "The property 'options.wake' must be one of: 'batched', 'eager'. Received 'lazy'",
        )
        .with.property('code', 'ERR_INVALID_ARG_VALUE');
      channel.destroy();
    });
  });

  describe('races in the wait protocol (each forced by a fixture, deterministic)', () => {
    /** Starts the race fixture with `script`, resolving with its report. */
    function race(script: RaceScript, transferList: MessagePort[]): { report: Promise<RaceReport> } {
      const worker = new Worker(fixtures.races, {
        workerData: script,
        transferList,
      });
      opened.workers.push(worker);
      const report = new Promise<RaceReport>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      return { report };
    }

    /** Resolves once `signals[slot]` is set. */
    async function signaled(signals: Int32Array, slot: number): Promise<void> {
      const wait = Atomics.waitAsync(signals, slot, 0, 10_000);
      if (wait.async) expect(await wait.value, `signal ${slot}`).to.equal('ok');
    }

    it('wakes a blocking writer when destroy() lands between its last check and Atomics.wait', async () => {
      const channel = openChannel({ size: 64, ringSize: 1024 });
      const handle = channel.createWriter();
      const signals = new Int32Array(new SharedArrayBuffer(32));
      const { report } = race(
        {
          scenario: 'destroy-while-blocking',
          handle,
          signals: signals.buffer,
          messageBytes: 64,
        },
        [handle.port],
      );
      await signaled(signals, SIGNAL.writerAtWait); // 16 writes fill the ring; the 17th is about to wait
      channel.destroy();
      Atomics.store(signals, SIGNAL.specDone, 1);
      Atomics.notify(signals, SIGNAL.specDone);
      const result = await report;
      expect(result.waitResult, 'the wait must not sleep through the destroy').to.equal('not-equal');
      expect(result.writeError).to.equal('ERR_STREAM_DESTROYED');
      // destroyed at once, so a synchronous loop checking only `destroyed` stops at the failed write
      expect(result.destroyedAtOnce).to.equal(true);
      expect(result.writes).to.equal(17);
    });

    it('wakes a writer that re-arms its wait while the reader is between checking the old one and notifying (the writer owns its flag)', async () => {
      const channel = openChannel({ size: 4096, ringSize: 1024 });
      const handle = channel.createWriter();
      const signals = new Int32Array(new SharedArrayBuffer(32));
      const { report } = race(
        {
          scenario: 'rearm-during-commit',
          handle,
          signals: signals.buffer,
          messageBytes: 64,
          messages: 48, // three rings' worth
        },
        [handle.port],
      );
      await signaled(signals, SIGNAL.writerAtWait);
      // The reader's commit stops right after loading the wait's last target,
      // until the writer has re-armed for the next one; after its notify, it
      // stops until the writer's re-armed wait has started.
      const { load, notify } = Atomics;
      let paused = false;
      let notified = false;
      Atomics.load = ((array: Int32Array, index: number) => {
        const value = load(array, index);
        if (!paused && index === RING_WAIT_BYTES && array.buffer === handle.ring) {
          paused = true;
          Atomics.store(signals, SIGNAL.specDone, 1);
          notify(signals, SIGNAL.specDone);
          Atomics.wait(signals, SIGNAL.writerRearmed, 0, 10_000);
        }
        return value;
      }) as typeof Atomics.load;
      Atomics.notify = ((array: Int32Array, index: number, count?: number) => {
        const woken = notify(array, index, count);
        if (paused && !notified && array.buffer === handle.ring) {
          notified = true;
          Atomics.store(signals, SIGNAL.readerNotified, 1);
          notify(signals, SIGNAL.readerNotified);
          Atomics.wait(signals, SIGNAL.writerWaiting, 0, 10_000);
        }
        return woken;
      }) as typeof Atomics.notify;
      const batches: Buffer[] = [];
      const ended = once(channel, 'end');
      try {
        channel.on('data', (batch: Buffer) => batches.push(batch));
        await signaled(signals, SIGNAL.writerWaiting);
      } finally {
        Object.assign(Atomics, { load, notify });
      }
      expect([paused, notified]).to.deep.equal([true, true]);
      const finished = await Promise.race([
        report,
        new Promise<null>((resolve) => setTimeout(resolve, 5000, null)),
      ]);
      expect(finished, 'the writer was never woken again').to.deep.equal({ finished: true });
      await ended;
      const expected = Buffer.concat(Array.from({ length: 48 }, (_, i) => Buffer.alloc(64, i & 0xff)));
      expect(Buffer.concat(batches)).to.deep.equal(expected);
    });

    it('finishes a writer whose end() was all taken while it armed its wait, even though the reader has closed since (autoEnd)', async () => {
      const channel = openChannel({ size: 4096, ringSize: 4096 });
      const handle = channel.createWriter();
      const signals = new Int32Array(new SharedArrayBuffer(32));
      const ends: WriterEndInfo[] = [];
      channel.on('writerEnd', (info) => ends.push(info));
      const { report } = race(
        {
          scenario: 'end-while-reader-closes',
          handle,
          signals: signals.buffer,
          messageBytes: 64,
          messages: 8, // fit in the ring: no wait before end()
        },
        [handle.port],
      );
      // Nothing is read until the writer has ended and armed its wait.
      await signaled(signals, SIGNAL.writerAtWait);
      const closed = once(channel, 'close');
      const batches = collect(channel);
      await closed; // every record taken, the writer retired, the stream ended and destroyed
      Atomics.store(signals, SIGNAL.specDone, 1);
      Atomics.notify(signals, SIGNAL.specDone);
      const result = await report;
      expect(result).to.deep.equal({ finished: true, stopped: true, error: null });
      expect(ends).to.deep.equal([{ id: 0, clean: true }]);
      const expected = Buffer.concat(Array.from({ length: 8 }, (_, i) => Buffer.alloc(64, i & 0xff)));
      expect(Buffer.concat(batches)).to.deep.equal(expected);
    });

    it("refuses blocking mode on the channel's reader thread when that thread is a worker", async () => {
      const { report } = race({ scenario: 'blocking-on-reader-thread' }, []);
      const { thrown } = await report;
      expect(thrown).to.include({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown?.message).to.match(/must be false on the channel's reader thread/);
    });
  });

  describe('bad options throw at once', () => {
    const bad: [string, unknown, string, string][] = [
      ['no options', undefined, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      ['null options', null, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      ['a missing size', {}, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      ['size 0', { size: 0 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      ['a fractional size', { size: 1.5 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      ['a string ringSize', { size: 8, ringSize: '4k' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      ['a ringSize below 1024', { size: 8, ringSize: 512 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [
        'a ringSize of 2^30 (its records would not fit the length field)',
        { size: 8, ringSize: 2 ** 30 },
        'RangeError',
        'ERR_OUT_OF_RANGE',
      ],
      [
        'a ringSize rounding up above 2^29',
        { size: 8, ringSize: 2 ** 29 + 1 },
        'RangeError',
        'ERR_OUT_OF_RANGE',
      ],
      ['a non-boolean autoEnd', { size: 8, autoEnd: 1 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      ['a maxDelay', { size: 8, maxDelay: 5 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      ['objectMode', { size: 8, objectMode: true }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [name, options, type, code] of bad) {
      it(`refuses ${name} with ${type} ${code}`, () => {
        const create = () => new WorkerChannel(options as ConstructorParameters<typeof WorkerChannel>[0]);
        expect(create)
          .to.throw(type === 'TypeError' ? TypeError : RangeError)
          .with.property('code', code);
      });
    }

    it('keeps every record length of the largest ring inside the length field', () => {
      expect(MAX_RING_CAPACITY).to.be.at.most(RECORD_LENGTH_MASK);
      expect(() => new WorkerChannel({ size: 8, ringSize: MAX_RING_CAPACITY })).not.to.throw();
    });

    it('refuses a handle that is not one with TypeError ERR_INVALID_ARG_TYPE', () => {
      for (const handle of [undefined, {}, { id: 0, size: 8, control: new SharedArrayBuffer(8) }]) {
        expect(() => new WorkerWritable(handle as never))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_TYPE');
      }
    });

    it('refuses blocking mode on the main thread with RangeError ERR_OUT_OF_RANGE', () => {
      const channel = openChannel({ size: 64 });
      const handle = channel.createWriter();
      expect(() => new WorkerWritable(handle, { blocking: true }))
        .to.throw(RangeError)
        .with.property('code', 'ERR_OUT_OF_RANGE');
      expect(() => new WorkerWritable(handle, { blocking: 'yes' as never }))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
      channel.destroy();
    });

    it('refuses a writeV of a non-array with TypeError ERR_INVALID_ARG_TYPE', () => {
      const channel = openChannel({ size: 64 });
      const writer = new WorkerWritable(channel.createWriter());
      expect(() => writer.writeV('abc' as never))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
      channel.destroy();
      writer.destroy();
    });
  });
});
