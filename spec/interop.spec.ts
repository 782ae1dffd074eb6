import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import { Duplex, finished, pipeline, Readable, Stream, Transform, Writable } from 'node:stream';
import * as streamPromises from 'node:stream/promises';
import * as rs from 'readable-stream';
import { AsyncBatchStream, BatchingWritable } from '../lib';
import { mulberry32 } from '../tools/support';
import { endOf, mustCall, nextTurn } from './support/helpers';

// Real parts around our two classes (semantics 1 and 17): loopback TCP sockets, Node's stream utilities, and readable-stream 4,
// the copy of Node's streams much of the ecosystem still builds on.

// ---- Data -------------------------------------------------------------------

/** Byte chunks of 1..maxLength bytes, each distinguishable from its neighbours. */
function byteChunks(count: number, maxLength: number, seed: number): Buffer[] {
  const next = mulberry32(seed); // seeded: the same interleavings every run
  const chunks: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const chunk = Buffer.allocUnsafe(1 + Math.floor(next() * maxLength));
    for (let j = 0; j < chunk.length; j++) chunk[j] = (i * 31 + j) & 0xff;
    chunks.push(chunk);
  }
  return chunks;
}

function sha256(...parts: Buffer[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** semantics 3 for writes all smaller than `size`: every batch holds 1..size units. */
function expectWithinBounds(batches: readonly { length: number }[], size: number): void {
  expect(batches.length, 'batches').to.be.greaterThan(0);
  for (const batch of batches) {
    expect(batch.length, 'batch length').to.be.within(1, size);
  }
}

// ---- Framed messages over TCP -------------------------------------------------

/** Frame header: producer (u16), sequence number (u32), payload length (u16). */
const HEADER_BYTES = 8;

/** The payload of frame `seq` of `producer`: the server rebuilds it to check it. */
function payloadOf(producer: number, seq: number): Buffer {
  const payload = Buffer.allocUnsafe(1 + ((producer * 7919 + seq * 104729) % 150));
  for (let i = 0; i < payload.length; i++) payload[i] = (producer + seq * 3 + i * 13) & 0xff;
  return payload;
}

function headerOf(producer: number, seq: number, payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt16BE(producer, 0);
  header.writeUInt32BE(seq, 2);
  header.writeUInt16BE(payloadBytes, 6);
  return header;
}

/** What the server saw on one connection. */
interface Received {
  sha256: string;
  bytes: number;
  frames: number;
  /** Frames out of sequence or with a wrong payload; empty when all is well. */
  problems: string[];
}

/** Parses frames as they arrive and checks each producer's sequence and payloads. */
class FrameChecker {
  /** Bytes of a frame not complete yet. */
  #pending: Buffer = Buffer.alloc(0);
  /** The next sequence number expected of each producer. */
  readonly #nextSeq = new Map<number, number>();
  frames = 0;
  readonly problems: string[] = [];

  push(data: Buffer): void {
    let pending = this.#pending.length === 0 ? data : Buffer.concat([this.#pending, data]);
    while (pending.length >= HEADER_BYTES) {
      const producer = pending.readUInt16BE(0);
      const seq = pending.readUInt32BE(2);
      const length = pending.readUInt16BE(6);
      if (pending.length < HEADER_BYTES + length) break;
      const payload = pending.subarray(HEADER_BYTES, HEADER_BYTES + length);
      const expectedSeq = this.#nextSeq.get(producer) ?? 0;
      if (seq !== expectedSeq)
        this.problems.push(`producer ${producer}: frame ${seq}, expected ${expectedSeq}`);
      else if (!payload.equals(payloadOf(producer, seq)))
        this.problems.push(`producer ${producer}: frame ${seq} corrupt`);
      this.#nextSeq.set(producer, seq + 1);
      this.frames++;
      pending = pending.subarray(HEADER_BYTES + length);
    }
    this.#pending = pending;
  }

  /** Checks nothing is left half-received, then returns the problems. */
  close(): string[] {
    if (this.#pending.length > 0) this.problems.push(`${this.#pending.length} trailing bytes`);
    return this.problems;
  }
}

/**
 * A loopback server taking one connection: hashes everything it receives and,
 * when `framed`, checks the frames. `received` settles at the client's end.
 */
async function startServer(framed: boolean): Promise<{
  server: net.Server;
  port: number;
  received: Promise<Received>;
}> {
  const server = net.createServer();
  const received = new Promise<Received>((resolve, reject) => {
    server.once('connection', (socket) => {
      const hash = createHash('sha256');
      const checker = new FrameChecker();
      let bytes = 0;
      socket.on('data', (data: Buffer) => {
        hash.update(data);
        bytes += data.length;
        if (framed) checker.push(data);
      });
      socket.once('error', reject);
      socket.once('end', () => {
        resolve({ sha256: hash.digest('hex'), bytes, frames: checker.frames, problems: checker.close() });
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port, received };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  // The server sends nothing; reading lets its FIN through, so the socket closes.
  socket.resume();
  return socket;
}

/** Waits for the client socket to close, then for the server to stop listening. */
async function closeAll(server: net.Server, socket: net.Socket): Promise<void> {
  if (!socket.closed) await once(socket, 'close');
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

describe('interop: a real TCP socket on loopback', () => {
  it('carries the framed writes of 64 concurrent producers through BatchingWritable intact and in call order', async () => {
    const { server, port, received } = await startServer(true);
    const socket = await connect(port);
    const size = 1024;
    const batches: number[] = [];
    const writable = new BatchingWritable({
      size,
      highWaterMark: 2048,
      onBatch(batch) {
        batches.push(batch.length);
        // semantics 4: the next batch waits until the socket took this one.
        return new Promise<void>((resolve, reject) => {
          socket.write(batch, (error) => (error ? reject(error) : resolve()));
        });
      },
    });
    writable.setMaxListeners(0); // each producer waiting for 'drain' listens once
    // semantics 2: what the server receives is the writes in call order.
    const expected = createHash('sha256');
    let expectedBytes = 0;
    const producers = 64;
    const framesEach = 40;
    const produce = async (producer: number): Promise<void> => {
      const next = mulberry32(producer + 1);
      for (let seq = 0; seq < framesEach; seq++) {
        const payload = payloadOf(producer, seq);
        const header = headerOf(producer, seq, payload.length);
        expected.update(header).update(payload);
        expectedBytes += header.length + payload.length;
        const ok =
          next() < 0.5
            ? writable.writeV([header, payload])
            : writable.write(Buffer.concat([header, payload]));
        if (!ok) await once(writable, 'drain');
        const pause = next();
        if (pause < 0.3) await nextTurn();
        else if (pause < 0.6) await Promise.resolve();
        else if (pause < 0.62) await writable.flush();
      }
    };
    await Promise.all(Array.from({ length: producers }, (_, producer) => produce(producer)));
    await endOf(writable);
    socket.end();
    const result = await received;
    await closeAll(server, socket);

    expect(result.problems).to.deep.equal([]);
    expect(result.frames).to.equal(producers * framesEach);
    expect(result.bytes).to.equal(expectedBytes);
    expect(result.sha256).to.equal(expected.digest('hex'));
    expectWithinBounds(
      batches.map((length) => ({ length })),
      size,
    );
    expect(batches.length, 'writes were coalesced').to.be.lessThan(producers * framesEach);
  });

  it('carries a source through AsyncBatchStream into a socket with stream.pipeline, intact', async () => {
    const { server, port, received } = await startServer(false);
    const socket = await connect(port);
    const size = 700;
    const chunks = byteChunks(2000, 300, 7);
    const transform = new AsyncBatchStream({ size });
    const batches: Buffer[] = [];
    transform.on('data', (batch: Buffer) => batches.push(batch));
    await streamPromises.pipeline(Readable.from(chunks), transform, socket);
    const result = await received;
    await closeAll(server, socket);

    const expected = Buffer.concat(chunks);
    expect(result.bytes).to.equal(expected.length);
    expect(result.sha256).to.equal(sha256(expected));
    expect(Buffer.concat(batches).equals(expected)).to.equal(true);
    expectWithinBounds(batches, size);
    expect(batches.length, 'writes were coalesced').to.be.lessThan(chunks.length);
  });
});

// ---- Node's stream utilities ----------------------------------------------------

describe("interop: node's stream utilities", () => {
  it('runs BatchingWritable at the end of stream.pipeline (callback form)', async () => {
    const chunks = byteChunks(300, 40, 1);
    const batches: Buffer[] = [];
    const writable = new BatchingWritable({ size: 64, onBatch: (batch) => void batches.push(batch) });
    const done = new Promise<void>((resolve, reject) => {
      pipeline(
        Readable.from(chunks),
        writable,
        mustCall((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    });
    await done;
    expect(Buffer.concat(batches).equals(Buffer.concat(chunks))).to.equal(true);
    expectWithinBounds(batches, 64);
  });

  it('runs BatchingWritable in object mode at the end of stream/promises pipeline', async () => {
    const items = Array.from({ length: 500 }, (_, id) => ({ id }));
    const batches: { id: number }[][] = [];
    const writable = new BatchingWritable<{ id: number }>({
      objectMode: true,
      size: 16,
      async onBatch(batch) {
        batches.push(batch);
        await nextTurn();
      },
    });
    await streamPromises.pipeline(Readable.from(items), writable);
    expect(batches.flat()).to.deep.equal(items);
    expectWithinBounds(batches, 16);
  });

  it('runs AsyncBatchStream in the middle of stream/promises pipeline into a slow Writable', async () => {
    const items = Array.from({ length: 500 }, (_, id) => id);
    const batches: number[][] = [];
    const sink = new Writable({
      objectMode: true,
      write(batch: number[], _encoding, callback) {
        batches.push(batch);
        setImmediate(callback);
      },
    });
    await streamPromises.pipeline(
      Readable.from(items),
      new AsyncBatchStream<number>({ objectMode: true, size: 10 }),
      sink,
    );
    expect(batches.flat()).to.deep.equal(items);
    expectWithinBounds(batches, 10);
    // semantics 15: the slower downstream reads, the fuller the batches.
    expect(batches.length, 'batches for 500 items of size 10 behind a slow sink').to.be.lessThan(100);
  });

  it('runs AsyncBatchStream into an async function destination of stream/promises pipeline', async () => {
    const chunks = byteChunks(400, 30, 2);
    const batches: Buffer[] = [];
    await streamPromises.pipeline(
      Readable.from(chunks),
      new AsyncBatchStream({ size: 50 }),
      async (source) => {
        for await (const batch of source as AsyncIterable<Buffer>) batches.push(batch);
      },
    );
    expect(Buffer.concat(batches).equals(Buffer.concat(chunks))).to.equal(true);
    expectWithinBounds(batches, 50);
  });

  it('yields batches to for await while producers write', async () => {
    const transform = new AsyncBatchStream<string>({ objectMode: true, size: 8 });
    const produce = async (name: string): Promise<void> => {
      for (let i = 0; i < 50; i++) {
        if (!transform.write(`${name}${i}`)) await once(transform, 'drain');
        if (i % 7 === 0) await nextTurn();
      }
    };
    const producing = Promise.all(['a', 'b', 'c'].map(produce)).then(() => transform.end());
    const batches: string[][] = [];
    for await (const batch of transform) batches.push(batch);
    await producing;
    const items = batches.flat();
    expect(items).to.have.length(150);
    for (const name of ['a', 'b', 'c']) {
      // Each producer's own writes keep their order.
      expect(items.filter((item) => item[0] === name)).to.deep.equal(
        Array.from({ length: 50 }, (_, i) => `${name}${i}`),
      );
    }
    expectWithinBounds(batches, 8);
  });

  it("reports a BatchingWritable's normal end through stream.finished", async () => {
    const writable = new BatchingWritable({ size: 4, onBatch: () => Promise.resolve() });
    const done = new Promise<Error | null | undefined>((resolve) => finished(writable, mustCall(resolve)));
    writable.write('abcdef');
    writable.end('gh');
    expect(await done).to.equal(undefined);
  });

  it("reports onBatch's failure through stream.finished with that error object", async () => {
    const failure = new Error('consumer failed');
    const writable = new BatchingWritable({ size: 4, onBatch: () => Promise.reject(failure) });
    const done = new Promise<Error | null | undefined>((resolve) => finished(writable, mustCall(resolve)));
    writable.on(
      'error',
      mustCall(() => {}),
    );
    writable.write('abc');
    expect(await done).to.equal(failure);
  });

  it('reports an AsyncBatchStream fully read through stream/promises finished', async () => {
    const transform = new AsyncBatchStream({ size: 4 });
    const batches: Buffer[] = [];
    transform.on('data', (batch: Buffer) => batches.push(batch));
    transform.write('abc');
    transform.write('defgh');
    transform.end('ij');
    await streamPromises.finished(transform);
    expect(Buffer.concat(batches).toString()).to.equal('abcdefghij');
    expect(transform.readableEnded && transform.writableFinished).to.equal(true);
  });

  it('takes a Readable piped into BatchingWritable with pipe()', async () => {
    const chunks = byteChunks(200, 20, 3);
    const batches: Buffer[] = [];
    const writable = new BatchingWritable({ size: 32, onBatch: (batch) => void batches.push(batch) });
    const finishing = once(writable, 'finish');
    expect(Readable.from(chunks).pipe(writable)).to.equal(writable);
    await finishing;
    expect(Buffer.concat(batches).equals(Buffer.concat(chunks))).to.equal(true);
    expectWithinBounds(batches, 32);
  });

  it('pipes AsyncBatchStream into a Writable with pipe()', async () => {
    const chunks = byteChunks(200, 20, 4);
    const batches: Buffer[] = [];
    const sink = new Writable({
      objectMode: true,
      write(batch: Buffer, _encoding, callback) {
        batches.push(batch);
        callback();
      },
    });
    const transform = new AsyncBatchStream({ size: 32 });
    const finishing = once(sink, 'finish');
    transform.pipe(sink);
    Readable.from(chunks).pipe(transform);
    await finishing;
    expect(Buffer.concat(batches).equals(Buffer.concat(chunks))).to.equal(true);
    expectWithinBounds(batches, 32);
  });
});

// ---- readable-stream 4 ------------------------------------------------------------

describe('interop: readable-stream 4', () => {
  it('takes a readable-stream Readable piped into BatchingWritable', async () => {
    const chunks = byteChunks(200, 20, 5);
    let index = 0;
    const source = new rs.Readable({
      read() {
        this.push(index < chunks.length ? chunks[index++] : null);
      },
    });
    const batches: Buffer[] = [];
    const writable = new BatchingWritable({
      size: 48,
      onBatch: async (batch) => {
        batches.push(batch);
        await Promise.resolve();
      },
    });
    const finishing = once(writable, 'finish');
    source.pipe(writable);
    await finishing;
    expect(Buffer.concat(batches).equals(Buffer.concat(chunks))).to.equal(true);
    expectWithinBounds(batches, 48);
  });

  it('pipes readable-stream Readable.from through AsyncBatchStream into a readable-stream Writable', async () => {
    const items = Array.from({ length: 300 }, (_, id) => ({ id }));
    const batches: { id: number }[][] = [];
    const sink = new rs.Writable({
      objectMode: true,
      write(batch: { id: number }[], _encoding: BufferEncoding, callback: (error?: Error | null) => void) {
        batches.push(batch);
        setImmediate(callback);
      },
    });
    await streamPromises.pipeline(
      rs.Readable.from(items),
      new AsyncBatchStream<{ id: number }>({ objectMode: true, size: 12 }),
      sink,
    );
    expect(batches.flat()).to.deep.equal(items);
    expectWithinBounds(batches, 12);
  });

  it('runs AsyncBatchStream through a readable-stream Transform with readable-stream pipeline', async () => {
    const chunks = byteChunks(300, 25, 6);
    const size = 60;
    const seen: number[] = [];
    // Each batch arrives whole, as one object-mode chunk, on the Transform's writable side.
    const measure = new rs.Transform({
      objectMode: true,
      transform(
        batch: Buffer,
        _encoding: BufferEncoding,
        callback: (error?: Error | null, data?: unknown) => void,
      ) {
        seen.push(batch.length);
        callback(null, batch);
      },
    });
    const received: Buffer[] = [];
    const sink = new rs.Writable({
      objectMode: true,
      write(batch: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void) {
        received.push(batch);
        callback();
      },
    });
    await new Promise<void>((resolve, reject) => {
      rs.pipeline(
        rs.Readable.from(chunks),
        new AsyncBatchStream({ size }),
        measure,
        sink,
        mustCall((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    });
    expect(Buffer.concat(received).equals(Buffer.concat(chunks))).to.equal(true);
    expectWithinBounds(
      seen.map((length) => ({ length })),
      size,
    );
    expect(received.map((batch) => batch.length)).to.deep.equal(seen);
  });
});

// ---- instanceof -----------------------------------------------------------------------

describe('interop: instanceof against node:stream', () => {
  it('makes BatchingWritable a stream.Writable', () => {
    const writable = new BatchingWritable({ size: 1, onBatch: () => {} });
    expect(writable).to.be.instanceOf(Writable);
    expect(writable).to.be.instanceOf(Stream);
    expect(writable).not.to.be.instanceOf(Readable);
    writable.destroy();
  });

  it('makes AsyncBatchStream a stream.Transform, hence a Duplex, Readable and Writable', () => {
    const transform = new AsyncBatchStream({ size: 1 });
    expect(transform).to.be.instanceOf(Transform);
    expect(transform).to.be.instanceOf(Duplex);
    expect(transform).to.be.instanceOf(Readable);
    expect(transform).to.be.instanceOf(Writable);
    transform.destroy();
  });
});
