// The tests of the Go library KarpelesLab/mwsr (buffer_test.go, mwsr_test.go),
// carried over to our Node API under their Go names. Go's `Buffer[T]` is
// `BatchingWritable`, Go's `AsyncBuffer[T]` (`New`) is `AsyncBatchStream` in
// object mode. A Go `Write([]T{...})` of several items is `writeV([...])`
// (semantics 7: one group), `Buffer[byte]` is byte mode, goroutines are async
// producers that respect backpressure. Where the Go semantics differ,
// docs/semantics.md wins and a comment names the rule.
import { once } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';
import { deferred, endOf, mustCall, nextTurn } from './support/helpers';

type CodedError = Error & { code?: string };

/**
 * A consumer that records every batch and checks semantics 4 on the way: it
 * counts re-entries while its own work (sync, or a returned promise) is
 * pending, and counts units whose `onBatch` has settled (semantics 8).
 */
class Recorder<B extends { length: number }> {
  readonly batches: B[] = [];
  /** Calls made while an earlier one had not settled; must stay 0. */
  reentries = 0;
  /** Units (bytes or items) of batches whose `onBatch` has settled. */
  settledUnits = 0;
  /** True while `onBatch` is running or its promise is pending. */
  #active = false;
  readonly #work: ((batch: B, index: number) => void | PromiseLike<unknown>) | undefined;

  constructor(work?: (batch: B, index: number) => void | PromiseLike<unknown>) {
    this.#work = work;
  }

  readonly onBatch = (batch: B): void | Promise<void> => {
    if (this.#active) this.reentries++;
    this.#active = true;
    this.batches.push(batch);
    let result: void | PromiseLike<unknown>;
    try {
      result = this.#work?.(batch, this.batches.length - 1);
    } catch (error) {
      this.#active = false;
      throw error;
    }
    if (result === undefined) {
      this.#active = false;
      this.settledUnits += batch.length;
      return undefined;
    }
    return Promise.resolve(result).then(
      () => {
        this.#active = false;
        this.settledUnits += batch.length;
      },
      (error: unknown) => {
        this.#active = false;
        throw error;
      },
    );
  };
}

/** One 'drain' wait shared by every producer: many waiters, one listener. */
function drainGate(stream: Writable): () => Promise<void> {
  let waiting: Promise<void> | null = null;
  return () =>
    (waiting ??= once(stream, 'drain').then(() => {
      waiting = null;
    }));
}

/** Writes one chunk and resolves with what its callback got. */
function writeResult(stream: Writable, chunk: unknown): Promise<Error | null | undefined> {
  return new Promise((resolve) => stream.write(chunk, resolve));
}

/** Resolves with a promise's rejection reason; fails if it fulfils. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.fail('expected a rejection');
}

/** semantics 10: later calls fail with the stream's error, or Node's ERR_STREAM_DESTROYED. */
function expectLaterFailure(error: unknown, original: Error): void {
  expect(error, 'a later call must fail').to.be.instanceOf(Error);
  if (error !== original) expect((error as CodedError).code).to.equal('ERR_STREAM_DESTROYED');
}

/** Items: semantics 2 (order) and 3 (1..size per batch), and semantics 4. */
function expectItemBatches<T>(recorded: Recorder<T[]> | T[][], written: readonly T[], size: number): void {
  const batches = Array.isArray(recorded) ? recorded : recorded.batches;
  if (!Array.isArray(recorded)) expect(recorded.reentries, 'onBatch re-entered').to.equal(0);
  const outOfBounds = batches.filter((batch) => batch.length < 1 || batch.length > size);
  expect(
    outOfBounds.map((batch) => batch.length),
    'batch sizes out of 1..size',
  ).to.deep.equal([]);
  expect(batches.flat()).to.deep.equal(written);
}

/**
 * Bytes: semantics 2 (the batches concatenated equal the writes, in write order),
 * 3 (1..size per batch; a chunk under `size` never split; one of `size` or
 * more alone, whole) and 4.
 */
function expectByteBatches(recorder: Recorder<Buffer>, writes: readonly Buffer[], size: number): void {
  expect(recorder.reentries, 'onBatch re-entered').to.equal(0);
  expect(Buffer.concat(recorder.batches).toString('hex')).to.equal(Buffer.concat(writes).toString('hex'));
  let next = 0;
  for (const [index, batch] of recorder.batches.entries()) {
    if (batch.length === 0) expect.fail(`batch ${index} is empty`);
    let used = 0;
    let chunks = 0;
    while (used < batch.length) {
      const chunk = writes[next++];
      if (chunk.length === 0) continue;
      chunks++;
      used += chunk.length;
      if (used > batch.length) expect.fail(`write ${next - 1} (${chunk.length} B) split across batches`);
      if (chunk.length >= size && batch.length !== chunk.length) {
        expect.fail(`write ${next - 1} (${chunk.length} B >= size) not alone in batch ${index}`);
      }
    }
    if (batch.length > size && chunks !== 1) expect.fail(`batch ${index} over size holds ${chunks} chunks`);
  }
}

/** semantics 7: every group of at most `size` units lies within one batch. */
function expectGroupsWhole(
  batchLengths: readonly number[],
  groupUnits: readonly number[],
  size: number,
): void {
  let batch = 0;
  let batchEnd = batchLengths[0] ?? 0;
  let offset = 0;
  for (const [group, units] of groupUnits.entries()) {
    if (units === 0) continue;
    while (offset >= batchEnd) batchEnd += batchLengths[++batch];
    if (units <= size && offset + units > batchEnd) expect.fail(`group ${group} split across batches`);
    offset += units;
  }
}

/** Per-producer order, for items encoded `producer * stride + sequence`. */
function expectPerProducerOrder(
  items: readonly number[],
  producers: number,
  stride: number,
  each: number,
): void {
  const next = new Array<number>(producers).fill(0);
  let misplaced = 0;
  for (const item of items) {
    const producer = Math.floor(item / stride);
    if (item % stride !== next[producer]++) misplaced++;
  }
  expect(misplaced, 'items out of their producer order').to.equal(0);
  expect(next).to.deep.equal(new Array<number>(producers).fill(each));
}

/** Reads every batch of `source`, running `work` on each (a slow consumer). */
async function collect<B>(
  source: AsyncIterable<B>,
  work?: (batch: B, index: number) => unknown,
): Promise<B[]> {
  const batches: B[] = [];
  for await (const batch of source) {
    batches.push(batch);
    await work?.(batch, batches.length - 1);
  }
  return batches;
}

/**
 * Resolves at the end of the turn it is called in: its immediate is queued
 * before any that later writes queue. Awaited after the writes, it checks
 * semantics 5's "a full batch never waits for another turn".
 */
function endOfThisTurn(): Promise<void> {
  return nextTurn();
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function bytes(...values: number[]): Buffer {
  return Buffer.from(values);
}

describe('buffer_test.go', () => {
  it('TestBufferBasic: two writes of the same turn arrive together, in order, by flush()', async () => {
    const recorder = new Recorder<number[]>();
    const onBatch = mustCall(recorder.onBatch, 1);
    const w = new BatchingWritable<number>({ size: 128, objectMode: true, onBatch });
    w.writeV([1, 2, 3]);
    w.writeV([4, 5]);
    await w.flush();
    // semantics 5: writes made in the same turn go out together.
    expect(recorder.batches).to.deep.equal([[1, 2, 3, 4, 5]]);
    await endOf(w);
  });

  it('TestBufferStress: 1000 producers × 100 writes arrive whole and in per-producer order', async () => {
    const size = 128;
    // A consumer that is sometimes slow: batches fill while it works.
    const recorder = new Recorder<number[]>((_batch, index) => (index % 2 === 0 ? nextTurn() : undefined));
    const w = new BatchingWritable<number>({ size, objectMode: true, onBatch: recorder.onBatch });
    const drain = drainGate(w);
    const written: number[] = [];
    const producer = async (id: number): Promise<void> => {
      for (let j = 0; j < 100; j++) {
        written.push(id * 100 + j);
        if (!w.write(id * 100 + j)) await drain();
      }
    };
    await Promise.all(range(0, 1000).map(producer));
    await w.flush();
    expect(recorder.settledUnits).to.equal(100_000);
    expectItemBatches(recorder, written, size);
    expectPerProducerOrder(recorder.batches.flat(), 1000, 100, 100);
    await endOf(w);
  });

  it('TestBufferCallbackError: a rejecting onBatch fails the waiting flush() and later writes with its error', async () => {
    const errTest = new Error('test error');
    const recorder = new Recorder<number[]>((_batch, index) =>
      index === 1 ? Promise.reject(errTest) : undefined,
    );
    const onBatch = mustCall(recorder.onBatch, 2);
    const w = new BatchingWritable<number>({ size: 10, objectMode: true, onBatch });
    w.on(
      'error',
      mustCall((error: Error) => expect(error).to.equal(errTest)),
    );
    w.writeV(
      [1, 2, 3],
      mustCall((error?: Error | null) => expect(error).to.equal(null)),
    );
    await w.flush();
    w.writeV([4, 5]);
    expect(await rejectionOf(w.flush())).to.equal(errTest);
    expect(w.destroyed).to.equal(true);
    expectLaterFailure(await writeResult(w, 6), errTest);
    expect(recorder.batches).to.deep.equal([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('TestBufferPanicRecovery: onBatch throwing destroys the stream with that same error', async () => {
    const panic = new Error('test panic');
    const onBatch = mustCall((_batch: number[]): void => {
      throw panic;
    });
    const w = new BatchingWritable<number>({ size: 2, objectMode: true, onBatch });
    w.on(
      'error',
      mustCall((error: Error) => expect(error).to.equal(panic)),
    );
    w.write(1);
    expect(await rejectionOf(w.flush())).to.equal(panic);
    expect(w.destroyed).to.equal(true);
    expect(w.errored).to.equal(panic);
    expectLaterFailure(await writeResult(w, 2), panic);
  });

  it('TestBufferPanicRecovery: a thrown non-Error is wrapped in an Error with it as cause', async () => {
    // Go recovers panic("test panic") as an error; semantics 10 wraps it with `cause`.
    const onBatch = mustCall((_batch: number[]): void => {
      throw 'test panic';
    });
    const w = new BatchingWritable<number>({ size: 2, objectMode: true, onBatch });
    const errorEvent = once(w, 'error');
    w.write(1);
    const error = await rejectionOf(w.flush());
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).cause).to.equal('test panic');
    expect((await errorEvent)[0]).to.equal(error);
    expectLaterFailure(await writeResult(w, 2), error as Error);
  });

  it('TestBufferFlushEmpty: flush() with nothing pending resolves without calling onBatch', async () => {
    const w = new BatchingWritable<number>({ size: 128, objectMode: true, onBatch: mustCall(() => {}, 0) });
    await w.flush();
    await endOf(w);
  });

  it('TestBufferZeroLengthWrite: writes of zero bytes call back and produce no batch', async () => {
    const w = new BatchingWritable({ size: 128, onBatch: mustCall((_batch: Buffer) => {}, 0) });
    const done = mustCall((error?: Error | null) => expect(error).to.equal(null), 3);
    w.write(Buffer.alloc(0), done);
    w.write(new Uint8Array(0), done);
    w.write('', done);
    await w.flush();
    await endOf(w);
  });

  it('TestBufferLargeWrite: a byte chunk larger than size goes alone, whole, without flush()', async () => {
    const recorder = new Recorder<Buffer>();
    // maxDelay Infinity is the Go library's Buffer (semantics 5): only full batches go by themselves.
    const w = new BatchingWritable({ size: 10, maxDelay: Infinity, onBatch: recorder.onBatch });
    const large = Buffer.from(range(0, 25));
    const turnEnd = endOfThisTurn();
    w.write(
      large,
      mustCall((error?: Error | null) => expect(error).to.equal(null)),
    );
    await turnEnd;
    expect(recorder.batches).to.have.length(1);
    expectByteBatches(recorder, [large], 10);
    await endOf(w);
    expect(recorder.batches).to.have.length(1);
  });

  it('TestBufferLargeWrite: a group of items larger than size arrives in batches of at most size', async () => {
    // semantics 3 wins over the Go library: only a byte chunk may exceed size; items are bounded.
    const recorder = new Recorder<number[]>();
    const w = new BatchingWritable<number>({
      size: 10,
      objectMode: true,
      maxDelay: Infinity,
      onBatch: recorder.onBatch,
    });
    const turnEnd = endOfThisTurn();
    w.writeV(range(0, 25));
    await turnEnd;
    expect(recorder.batches).to.deep.equal([range(0, 10), range(10, 20)]);
    await w.flush();
    expectItemBatches(recorder, range(0, 25), 10);
    expect(recorder.batches).to.have.length(3);
  });

  it('TestBufferExactlyFull: a batch filled to size goes at once; the next write starts a new one', async () => {
    const recorder = new Recorder<number[]>();
    const w = new BatchingWritable<number>({
      size: 5,
      objectMode: true,
      maxDelay: Infinity,
      onBatch: recorder.onBatch,
    });
    const turnEnd = endOfThisTurn();
    w.writeV([1, 2, 3]);
    w.writeV([4, 5]);
    w.write(6);
    await turnEnd;
    expect(recorder.batches).to.deep.equal([[1, 2, 3, 4, 5]]);
    await w.flush();
    expect(recorder.batches).to.deep.equal([[1, 2, 3, 4, 5], [6]]);
    expectItemBatches(recorder, range(1, 7), 5);
  });

  it('TestBufferIOWriter: works as a plain Writable: write(), stream.pipeline from a Readable', async () => {
    // Go's io.Writer is Node's Writable (semantics 1).
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 64, onBatch: recorder.onBatch });
    expect(w).to.be.instanceOf(Writable);
    const plain: Writable = w;
    plain.write('hello ');
    plain.write(Buffer.from('world'));
    await w.flush();
    expect(Buffer.concat(recorder.batches).toString()).to.equal('hello world');

    const piped = new Recorder<Buffer>();
    const sink = new BatchingWritable({ size: 8, onBatch: piped.onBatch });
    const chunks = ['hello ', 'world', ', ', 'this is ', 'a pipeline'].map((text) => Buffer.from(text));
    await pipeline(Readable.from(chunks), sink);
    expect(Buffer.concat(piped.batches).toString()).to.equal('hello world, this is a pipeline');
    expectByteBatches(piped, chunks, 8);
  });

  it('TestBufferDataCopied: a chunk changed after its write callback leaves the batch unchanged', async () => {
    const started = deferred();
    const release = deferred();
    const recorder = new Recorder<Buffer>((_batch, index) => {
      if (index !== 0) return undefined;
      started.resolve();
      return release.promise;
    });
    const w = new BatchingWritable({ size: 64, onBatch: recorder.onBatch });
    const first = Buffer.from('original');
    await new Promise<void>((resolve) => w.write(first, () => resolve()));
    first.fill('X'); // semantics 6: the writer may reuse its chunk once the callback fired
    await started.promise;
    // semantics 8: everything written is handed over but not settled; flush() waits for it.
    const firstFlush = w.flush().then(() => recorder.settledUnits);
    // Written while onBatch holds the first batch: the bytes wait in the open batch.
    const second = Buffer.from('second');
    await new Promise<void>((resolve) => w.write(second, () => resolve()));
    second.fill('Y');
    release.resolve();
    expect(await firstFlush).to.be.at.least('original'.length);
    await w.flush();
    const third = Buffer.from('third');
    w.write(third);
    await w.flush();
    // semantics 6: batches belong to onBatch; the library never writes into them again.
    expect(recorder.batches.map((batch) => batch.toString())).to.deep.equal(['original', 'second', 'third']);
  });

  it('TestBufferConcurrentFlush: 50 producers and 10 flushers: each flush() covers what was written before it', async () => {
    const size = 10;
    const recorder = new Recorder<number[]>(() => nextTurn());
    const w = new BatchingWritable<number>({ size, objectMode: true, onBatch: recorder.onBatch });
    const drain = drainGate(w);
    const written: number[] = [];
    let lateFlushes = 0;
    const producer = async (id: number): Promise<void> => {
      for (let j = 0; j < 100; j++) {
        written.push(id * 100 + j);
        if (!w.write(id * 100 + j)) await drain();
      }
    };
    const flusher = async (): Promise<void> => {
      for (let k = 0; k < 20; k++) {
        const target = written.length;
        await w.flush();
        // semantics 8: resolved only once onBatch settled for everything written before the call.
        if (recorder.settledUnits < target) lateFlushes++;
      }
    };
    await Promise.all([...range(0, 50).map(producer), ...range(0, 10).map(flusher)]);
    await w.flush();
    expect(lateFlushes).to.equal(0);
    expect(recorder.settledUnits).to.equal(5000);
    expectItemBatches(recorder, written, size);
    expectPerProducerOrder(recorder.batches.flat(), 50, 100, 100);
  });

  it('TestBufferWriteDuringFlush: a write made while onBatch is busy goes out once it settles', async () => {
    const started = deferred();
    const release = deferred();
    const recorder = new Recorder<number[]>((_batch, index) => {
      if (index !== 0) return undefined;
      started.resolve();
      return release.promise;
    });
    const w = new BatchingWritable<number>({ size: 10, objectMode: true, onBatch: recorder.onBatch });
    const drain = drainGate(w);
    const producing = (async () => {
      for (let i = 0; i < 20; i++) if (!w.write(i)) await drain();
    })();
    await started.promise;
    const late = writeResult(w, 999);
    expect(recorder.batches).to.have.length(1); // semantics 4: not called again while busy
    release.resolve();
    expect(await late).to.equal(null);
    await producing;
    await w.flush();
    // semantics 5: what was written while busy goes as soon as it settles, in
    // batches up to size; where 999 falls among 10..19 depends on when the
    // producer resumed after write() asked it to wait, not on the contract.
    expect(recorder.batches[0]).to.deep.equal(range(0, 10));
    const later = recorder.batches.slice(1).flat();
    expect(later.filter((n) => n !== 999)).to.deep.equal(range(10, 20));
    expect(later.filter((n) => n === 999)).to.have.length(1);
    for (const batch of recorder.batches) expect(batch.length).to.be.within(1, 10);
    expect(recorder.reentries).to.equal(0);
  });

  it('TestBufferMixedSizeWrites: groups of mixed sizes in one turn arrive as one batch', async () => {
    const recorder = new Recorder<number[]>();
    const w = new BatchingWritable<number>({ size: 100, objectMode: true, onBatch: recorder.onBatch });
    const groups = [[1], [1, 2, 3, 4, 5], [1, 2], new Array<number>(50).fill(0), [1, 2, 3]];
    for (const group of groups) w.writeV(group);
    await w.flush();
    expect(recorder.batches).to.deep.equal([groups.flat()]);
    expect(recorder.batches[0]).to.have.length(1 + 5 + 2 + 50 + 3);
  });

  it('TestBufferMixedSizeWrites: byte chunks of mixed sizes are never split; one over size goes alone', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 32, onBatch: recorder.onBatch });
    const chunks = [1, 5, 2, 50, 3].map((length, i) => Buffer.alloc(length, i + 1));
    for (const chunk of chunks) w.write(chunk);
    await w.flush();
    expectByteBatches(recorder, chunks, 32);
    expect(recorder.batches.map((batch) => batch.length)).to.deep.equal([8, 50, 3]);
  });

  it('TestBufferOverflowBoundary: a batch exactly at size goes; one more byte waits for flush()', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 10, maxDelay: Infinity, onBatch: recorder.onBatch });
    const chunks = [bytes(1, 2, 3, 4, 5), bytes(6, 7, 8, 9, 10), bytes(11)];
    const turnEnd = endOfThisTurn();
    for (const chunk of chunks) w.write(chunk);
    await turnEnd;
    expect(recorder.batches).to.deep.equal([Buffer.from(range(1, 11))]);
    await w.flush();
    expect(recorder.batches).to.deep.equal([Buffer.from(range(1, 11)), bytes(11)]);
    expectByteBatches(recorder, chunks, 10);
  });

  it('TestBufferRapidSmallWrites: 100 producers × 100 two-byte writes: no pair split, order kept', async () => {
    const size = 1024;
    const recorder = new Recorder<Buffer>(() => nextTurn());
    const w = new BatchingWritable({ size, highWaterMark: 64, onBatch: recorder.onBatch });
    const drain = drainGate(w);
    const written: Buffer[] = [];
    const producer = async (id: number): Promise<void> => {
      for (let j = 0; j < 100; j++) {
        const chunk = bytes(id, j);
        written.push(chunk);
        if (!w.write(chunk)) await drain();
      }
    };
    await Promise.all(range(0, 100).map(producer));
    await w.flush();
    expect(recorder.settledUnits).to.equal(100 * 100 * 2);
    expectByteBatches(recorder, written, size);
    const all = Buffer.concat(recorder.batches);
    const pairs = range(0, all.length / 2).map((i) => all[2 * i] * 100 + all[2 * i + 1]);
    expectPerProducerOrder(pairs, 100, 100, 100);
  });

  it('TestBufferErrorPersists: after onBatch fails, writes, writeV() and flush() keep failing', async () => {
    const errTest = new Error('permanent error');
    const onBatch = mustCall((_batch: number[]): Promise<void> => Promise.reject(errTest));
    const w = new BatchingWritable<number>({ size: 10, objectMode: true, onBatch });
    w.on(
      'error',
      mustCall((error: Error) => expect(error).to.equal(errTest)),
    );
    w.write(1);
    expect(await rejectionOf(w.flush())).to.equal(errTest);
    expectLaterFailure(await writeResult(w, 2), errTest);
    const writeVError = await new Promise<Error | null | undefined>((resolve) => w.writeV([3, 4], resolve));
    expectLaterFailure(writeVError, errTest);
    expectLaterFailure(await rejectionOf(w.flush()), errTest);
    expectLaterFailure(await rejectionOf(w.flush()), errTest);
  });

  it('TestBufferGenericTypes: object mode carries strings, structs and large objects as they are', async () => {
    const strings = new Recorder<string[]>();
    const stringWritable = new BatchingWritable<string>({
      size: 10,
      objectMode: true,
      onBatch: strings.onBatch,
    });
    stringWritable.writeV(['hello', 'world']);
    await stringWritable.flush();
    expect(strings.batches).to.deep.equal([['hello', 'world']]);

    interface Item {
      id: number;
      name: string;
    }
    const items = new Recorder<Item[]>();
    const itemWritable = new BatchingWritable<Item>({ size: 10, objectMode: true, onBatch: items.onBatch });
    const written: Item[] = [
      { id: 1, name: 'first' },
      { id: 2, name: 'second' },
    ];
    itemWritable.writeV(written);
    await itemWritable.flush();
    expect(items.batches).to.have.length(1);
    expect(items.batches[0][0]).to.equal(written[0]); // the same objects, not copies
    expect(items.batches[0][1]).to.equal(written[1]);

    // Go's pointer case: a batch holds references only until onBatch has it.
    interface Big {
      payload: Uint8Array;
    }
    const bigs = new Recorder<Big[]>();
    const bigWritable = new BatchingWritable<Big>({ size: 5, objectMode: true, onBatch: bigs.onBatch });
    const groups = range(0, 20).map(() => [
      { payload: new Uint8Array(1024) },
      { payload: new Uint8Array(1024) },
    ]);
    for (const group of groups) bigWritable.writeV(group);
    await bigWritable.flush();
    expectItemBatches(bigs, groups.flat(), 5);
    expectGroupsWhole(
      bigs.batches.map((batch) => batch.length),
      groups.map((group) => group.length),
      5,
    );
    expect(bigs.batches.flat()).to.have.length(40);
  });

  it('TestBufferWriteExactBufferSize: a write of exactly size goes at once, as one batch', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 10, maxDelay: Infinity, onBatch: recorder.onBatch });
    const data = Buffer.from(range(0, 10));
    const turnEnd = endOfThisTurn();
    w.write(data);
    await turnEnd;
    expect(recorder.batches).to.deep.equal([data]);

    const items = new Recorder<number[]>();
    const objects = new BatchingWritable<number>({
      size: 10,
      objectMode: true,
      maxDelay: Infinity,
      onBatch: items.onBatch,
    });
    const itemsTurnEnd = endOfThisTurn();
    objects.writeV(range(0, 10));
    await itemsTurnEnd;
    expect(items.batches).to.deep.equal([range(0, 10)]);
  });

  it('TestBufferMultipleLargeWrites: ten chunks of twice the size each go alone, whole, in order', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 100, maxDelay: Infinity, onBatch: recorder.onBatch });
    const chunks = range(0, 10).map((i) => Buffer.alloc(200, i));
    const turnEnd = endOfThisTurn();
    for (const chunk of chunks) w.write(chunk);
    await turnEnd;
    expect(recorder.batches).to.deep.equal(chunks);
    expect(Buffer.concat(recorder.batches).length).to.equal(2000);
    expectByteBatches(recorder, chunks, 100);
  });

  it('TestBufferFlushDuringLargeWrite: pending bytes go first, then the large chunk alone', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 5, maxDelay: Infinity, onBatch: recorder.onBatch });
    const chunks = [bytes(1, 2, 3), Buffer.alloc(10, 7)];
    const turnEnd = endOfThisTurn();
    for (const chunk of chunks) w.write(chunk);
    // A batch the next write cannot join is full (the Go library flushes it inside
    // Write), and the large chunk is full by itself: neither waits (semantics 5).
    await turnEnd;
    expect(recorder.batches).to.deep.equal(chunks);
    expectByteBatches(recorder, chunks, 5);
  });

  it('TestBufferWriteVBasic: a group arrives in one batch, in order, and calls back once', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 128, onBatch: recorder.onBatch });
    const group = [bytes(1, 2), bytes(3, 4, 5), bytes(6)];
    const ok = w.writeV(
      group,
      mustCall((error?: Error | null) => expect(error).to.equal(null)),
    );
    expect(ok).to.equal(true);
    await w.flush();
    expect(recorder.batches).to.deep.equal([bytes(1, 2, 3, 4, 5, 6)]);
  });

  it('TestBufferWriteVEmpty: empty groups and groups of empty chunks call back and produce nothing', async () => {
    const w = new BatchingWritable({ size: 128, onBatch: mustCall((_batch: Buffer) => {}, 0) });
    const done = mustCall((error?: Error | null) => expect(error).to.equal(null), 2);
    expect(w.writeV([], done)).to.equal(true);
    w.writeV([Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)], done);
    await w.flush();
    await endOf(w);

    const items = new BatchingWritable<number>({
      size: 128,
      objectMode: true,
      onBatch: mustCall(() => {}, 0),
    });
    expect(
      items.writeV(
        [],
        mustCall((error?: Error | null) => expect(error).to.equal(null)),
      ),
    ).to.equal(true);
    await items.flush();
    await endOf(items);
  });

  it('TestBufferWriteVLarge: a group with chunks over size: each large chunk alone, the small one whole', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 10, onBatch: recorder.onBatch });
    const group = [Buffer.alloc(25, 1), bytes(1, 2, 3), Buffer.alloc(30, 2)];
    w.writeV(
      group,
      mustCall((error?: Error | null) => expect(error).to.equal(null)),
    );
    await w.flush();
    expect(recorder.batches.map((batch) => batch.length)).to.deep.equal([25, 3, 30]);
    expectByteBatches(recorder, group, 10);

    // semantics 3 wins for items: a group over size comes in batches of at most size.
    const items = new Recorder<number[]>();
    const objects = new BatchingWritable<number>({ size: 10, objectMode: true, onBatch: items.onBatch });
    objects.writeV(range(0, 58));
    await objects.flush();
    expectItemBatches(items, range(0, 58), 10);
  });

  it('TestBufferWriteVMixed: a group over size is placed chunk by chunk, no chunk split', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 10, onBatch: recorder.onBatch });
    const group = [bytes(1, 2), bytes(3, 4, 5), bytes(6, 7, 8, 9, 10, 11)];
    w.writeV(group);
    await w.flush();
    expectByteBatches(recorder, group, 10);
    expect(Buffer.concat(recorder.batches)).to.have.length(11);
  });

  it('TestBufferWriteVConcurrent: 100 producers × 50 groups: each group whole, nothing between its chunks', async () => {
    const size = 100;
    const recorder = new Recorder<Buffer>((_batch, index) => (index % 2 === 0 ? nextTurn() : undefined));
    const w = new BatchingWritable({ size, highWaterMark: 64, onBatch: recorder.onBatch });
    const drain = drainGate(w);
    const written: Buffer[] = [];
    const groupUnits: number[] = [];
    const producer = async (id: number): Promise<void> => {
      for (let j = 0; j < 50; j++) {
        // Go's {id, j}, {id + 100}, the short chunk first: a group that
        // starts one byte before a batch's end would be split without semantics 7.
        const group = [bytes(id + 100), bytes(id, j)];
        written.push(...group);
        groupUnits.push(3);
        if (!w.writeV(group)) await drain();
      }
    };
    await Promise.all(range(0, 100).map(producer));
    await w.flush();
    expect(recorder.settledUnits).to.equal(100 * 50 * 3);
    expectByteBatches(recorder, written, size);
    expectGroupsWhole(
      recorder.batches.map((batch) => batch.length),
      groupUnits,
      size,
    );
    const all = Buffer.concat(recorder.batches);
    const triples = range(0, all.length / 3);
    // semantics 7: nothing enters between the chunks of a group.
    expect(triples.filter((i) => all[3 * i] !== all[3 * i + 1] + 100)).to.deep.equal([]);
    expectPerProducerOrder(
      triples.map((i) => all[3 * i + 1] * 100 + all[3 * i + 2]),
      100,
      100,
      50,
    );
  });

  it('TestBufferWriteVError: after onBatch fails, writeV() fails with its error', async () => {
    const errTest = new Error('test error');
    const recorder = new Recorder<Buffer>((_batch, index) => {
      if (index === 1) throw errTest;
    });
    const onBatch = mustCall(recorder.onBatch, 2);
    const w = new BatchingWritable({ size: 5, onBatch });
    w.on(
      'error',
      mustCall((error: Error) => expect(error).to.equal(errTest)),
    );
    w.writeV([bytes(1, 2)]);
    await w.flush();
    w.writeV([bytes(3, 4)]);
    expect(await rejectionOf(w.flush())).to.equal(errTest);
    const single = await new Promise<Error | null | undefined>((resolve) => w.writeV([bytes(5)], resolve));
    expectLaterFailure(single, errTest);
    const group = await new Promise<Error | null | undefined>((resolve) =>
      w.writeV([bytes(5), bytes(6)], resolve),
    );
    expectLaterFailure(group, errTest);
    expect(recorder.batches).to.deep.equal([bytes(1, 2), bytes(3, 4)]);
  });

  it('TestBufferWriteVBytes: scatter-gather parts arrive together, never split by a fuller batch', async () => {
    const recorder = new Recorder<Buffer>();
    const w = new BatchingWritable({ size: 64, onBatch: recorder.onBatch });
    const parts = ['HTTP/1.1 200 OK\r\n', 'Content-Type: text/plain\r\n', '\r\n', 'Hello, World!'].map(
      (text) => Buffer.from(text),
    );
    // 10 bytes first: the 58-byte group no longer fits that batch, so it must
    // move to the next one whole (semantics 7), not fill the first and split.
    const head = Buffer.alloc(10, 'x');
    w.write(head);
    w.writeV(parts);
    await w.flush();
    expect(recorder.batches.map((batch) => batch.toString())).to.deep.equal([
      'xxxxxxxxxx',
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, World!',
    ]);
    expectByteBatches(recorder, [head, ...parts], 64);
  });
});

describe('mwsr_test.go', () => {
  it('TestBasic: 10 concurrent producers: flush() pushes their items downstream in one batch', async () => {
    const t = new AsyncBatchStream<number>({ size: 128, objectMode: true });
    const written: number[] = [];
    await Promise.all(
      range(0, 10).map(async (i) => {
        written.push(i);
        expect(await writeResult(t, i)).to.equal(null);
      }),
    );
    await t.flush();
    // semantics 18: flush() resolves once pushed; the batch is readable now.
    const batch = t.read() as number[];
    expect(batch).to.deep.equal(written);
    expect(batch.reduce((sum, value) => sum + value, 0)).to.equal(45);
    expect(t.read()).to.equal(null);
    t.end();
    expect(await collect(t)).to.deep.equal([]);
  });

  it('TestStress: 65,536 producers each write their index; the values read sum to 2147450880', async () => {
    const size = 128;
    const t = new AsyncBatchStream<number>({ size, objectMode: true });
    const reading = collect<number[]>(t, (_batch, index) => (index % 4 === 0 ? nextTurn() : undefined));
    const drain = drainGate(t);
    const written: number[] = [];
    const producer = async (i: number): Promise<void> => {
      written.push(i);
      if (!t.write(i)) await drain();
    };
    await Promise.all(range(0, 65536).map(producer));
    await t.flush();
    t.end();
    const batches = await reading;
    let sum = 0;
    for (const batch of batches) for (const value of batch) sum += value;
    expect(sum).to.equal(2147450880);
    expectItemBatches(batches, written, size);
  });

  it('TestCallbackError: a failing downstream fails the pipeline with its error and stops the stream', async () => {
    const errTest = new Error('test error');
    const t = new AsyncBatchStream<number>({ size: 2, objectMode: true });
    const received: number[][] = [];
    const sink = new Writable({
      objectMode: true,
      write: mustCall(
        (batch: number[], _encoding: BufferEncoding, callback: (error?: Error | null) => void) => {
          received.push(batch);
          callback(received.length === 2 ? errTest : null);
        },
        2,
      ),
    });
    const piping = pipeline(t, sink);
    for (const i of [1, 2, 3, 4]) t.write(i);
    // Whether this one settles before the failure is a race; it must settle, though.
    const early = t.flush();
    expect(await rejectionOf(piping)).to.equal(errTest);
    await Promise.allSettled([early]);
    expect(received).to.deep.equal([
      [1, 2],
      [3, 4],
    ]);
    expect(t.destroyed).to.equal(true);
    expectLaterFailure(await rejectionOf(t.flush()), errTest);
    expectLaterFailure(await writeResult(t, 5), errTest);
  });

  it('TestPanicRecovery: a consumer throwing in a pipeline destroys the stream with that error', async () => {
    // Go recovers a panic in the reader goroutine; in Node the reader is downstream.
    const panic = new Error('test panic');
    const t = new AsyncBatchStream<number>({ size: 1, objectMode: true });
    const consumer = mustCall(async (source: AsyncIterable<number[]>): Promise<void> => {
      for await (const batch of source) {
        expect(batch).to.deep.equal([1]);
        throw panic;
      }
    });
    const piping = pipeline(t, consumer);
    t.write(1);
    t.write(2);
    const early = t.flush();
    expect(await rejectionOf(piping)).to.equal(panic);
    await Promise.allSettled([early]);
    expect(t.destroyed).to.equal(true);
    // Node's pipeline destroys a source whose consumer threw with an AbortError:
    // that is the stream's own error now, and later calls fail with it.
    const streamError = t.errored as Error;
    expect(streamError).to.be.instanceOf(Error);
    expectLaterFailure(await rejectionOf(t.flush()), streamError);
    expectLaterFailure(await writeResult(t, 3), streamError);
  });

  it('TestClose: end() pushes the pending batch, then writes fail with ERR_STREAM_WRITE_AFTER_END', async () => {
    const t = new AsyncBatchStream<number>({ size: 128, objectMode: true });
    const errors: CodedError[] = [];
    t.on('error', (error: CodedError) => errors.push(error));
    const reading = collect<number[]>(t);
    t.write(1);
    t.end();
    expect(await reading).to.deep.equal([[1]]);
    // semantics 10: Go's ErrClosed is Node's ERR_STREAM_WRITE_AFTER_END.
    const writeError = (await writeResult(t, 2)) as CodedError;
    expect(writeError.code).to.equal('ERR_STREAM_WRITE_AFTER_END');
    const writeVError = await new Promise<CodedError | null | undefined>((resolve) =>
      t.writeV([2, 3], resolve),
    );
    expect(writeVError?.code).to.equal('ERR_STREAM_WRITE_AFTER_END');
    expect(errors.filter((error) => error.code !== 'ERR_STREAM_WRITE_AFTER_END')).to.deep.equal([]);
  });

  it('TestCloseMultipleTimes: end() three times is harmless, as on a plain PassThrough', async () => {
    const t = new AsyncBatchStream<number>({ size: 128, objectMode: true });
    const plain = new PassThrough({ objectMode: true });
    for (const stream of [t, plain]) {
      stream.on(
        'error',
        mustCall(() => {}, 0),
      );
      stream.on(
        'finish',
        mustCall(() => {}),
      );
      stream.on(
        'end',
        mustCall(() => {}),
      );
      stream.end();
      stream.end();
      stream.end();
      stream.resume();
      await finished(stream);
    }
    // Once finished, end(cb) reports to cb exactly as Node's own streams do.
    const ours = await new Promise<CodedError | null | undefined>((resolve) =>
      t.end((error?: Error | null) => resolve(error)),
    );
    const theirs = await new Promise<CodedError | null | undefined>((resolve) => plain.end(resolve));
    expect(ours?.code).to.equal(theirs?.code);
  });

  it('TestZeroBufferSize: size 0 throws RangeError ERR_OUT_OF_RANGE', () => {
    // semantics 11 wins: the Go library silently used 1; we refuse at once.
    expect(() => new AsyncBatchStream({ size: 0, objectMode: true }))
      .to.throw(RangeError)
      .with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => new BatchingWritable({ size: 0, onBatch: () => {} }))
      .to.throw(RangeError)
      .with.property('code', 'ERR_OUT_OF_RANGE');
  });

  it('TestNegativeBufferSize: size -5 throws RangeError ERR_OUT_OF_RANGE', () => {
    // semantics 11 wins: the Go library silently used 1; we refuse at once.
    expect(() => new AsyncBatchStream({ size: -5, objectMode: true }))
      .to.throw(RangeError)
      .with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => new BatchingWritable({ size: -5, onBatch: () => {} }))
      .to.throw(RangeError)
      .with.property('code', 'ERR_OUT_OF_RANGE');
  });

  it('TestFlushEmpty: flush() with nothing pending resolves and pushes nothing', async () => {
    const t = new AsyncBatchStream<number>({ size: 128, objectMode: true });
    await t.flush();
    expect(t.readableLength).to.equal(0);
    expect(t.read()).to.equal(null);
    t.end();
    expect(await collect(t)).to.deep.equal([]);
  });

  it('TestGenericTypes: strings and structs come out as arrays of the same values', async () => {
    const strings = new AsyncBatchStream<string>({ size: 10, objectMode: true });
    strings.write('hello');
    strings.write('world');
    await strings.flush();
    strings.end();
    expect(await collect(strings)).to.deep.equal([['hello', 'world']]);

    interface Item {
      id: number;
      name: string;
    }
    const items = new AsyncBatchStream<Item>({ size: 10, objectMode: true });
    const written: Item[] = [
      { id: 1, name: 'first' },
      { id: 2, name: 'second' },
    ];
    for (const item of written) items.write(item);
    await items.flush();
    items.end();
    const batches = await collect(items);
    expect(batches).to.have.length(1);
    expect(batches[0][0]).to.equal(written[0]); // the same objects, not copies
    expect(batches[0][1]).to.equal(written[1]);
  });

  it('TestConcurrentWriteAndClose: end() amid writes: earlier ones arrive, later ones fail, nothing hangs', async () => {
    const t = new AsyncBatchStream<number>({ size: 128, objectMode: true });
    const received: number[][] = [];
    // A flowing consumer: each batch is taken the moment it is pushed.
    t.on('data', (batch: number[]) => received.push(batch));
    const errors: CodedError[] = [];
    t.on('error', (error: CodedError) => errors.push(error));
    const accepted: number[] = [];
    const refused: number[] = [];
    const producer = async (i: number): Promise<void> => {
      // Producers spread over this turn and the next few.
      for (let k = 0; k < i % 4; k++) await nextTurn();
      const afterEnd = t.writableEnded;
      (afterEnd ? refused : accepted).push(i);
      const error = (await writeResult(t, i)) as CodedError | null;
      if (afterEnd) expect(error?.code).to.equal('ERR_STREAM_WRITE_AFTER_END');
      else expect(error).to.equal(null);
    };
    const producing = Promise.all(range(0, 100).map(producer));
    const closing = (async () => {
      await nextTurn();
      t.end();
    })();
    await Promise.all([producing, closing]);
    await Promise.allSettled([finished(t)]);
    expect(accepted.length).to.be.above(0);
    expect(refused.length).to.be.above(0);
    expectItemBatches(received, accepted, 128);
    expect(errors.filter((error) => error.code !== 'ERR_STREAM_WRITE_AFTER_END')).to.deep.equal([]);
  });

  it('TestWriteDuringFlush: items written while downstream is busy wait in one open batch', async () => {
    const t = new AsyncBatchStream<number>({ size: 4, objectMode: true });
    const started = deferred();
    const release = deferred();
    const reading = collect<number[]>(t, (_batch, index) => {
      if (index !== 0) return undefined;
      started.resolve();
      return release.promise;
    });
    for (let i = 1; i <= 4; i++) t.write(i);
    await started.promise;
    // One write per turn while the reader is busy: the first fills the
    // readable side (readableHighWaterMark 1, pushed by the next turn, semantics 5);
    // the rest wait in the open batch, not in a queue of small batches.
    for (let i = 5; i <= 8; i++) {
      t.write(i);
      await nextTurn();
    }
    const flushed = t.flush();
    release.resolve();
    await flushed;
    t.end();
    const batches = await reading;
    expect(batches).to.deep.equal([[1, 2, 3, 4], [5], [6, 7, 8]]);
    expect(batches.flat().reduce((sum, value) => sum + value, 0)).to.equal(36);
  });

  it('TestWriteDuringFlushStress: 1000 producers against a slow reader: all values, batches up to size', async () => {
    const size = 100;
    const t = new AsyncBatchStream<number>({ size, objectMode: true });
    const reading = collect<number[]>(t, () => nextTurn());
    const drain = drainGate(t);
    const written: number[] = [];
    await Promise.all(
      range(1, 1001).map(async (i) => {
        for (let k = 0; k < i % 3; k++) await nextTurn();
        written.push(i);
        if (!t.write(i)) await drain();
      }),
    );
    await t.flush();
    t.end();
    const batches = await reading;
    expect(batches.flat().reduce((sum, value) => sum + value, 0)).to.equal(500500);
    expectItemBatches(batches, written, size);
  });
});
