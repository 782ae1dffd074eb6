import { expect } from 'chai';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';
import { deferred, nextTurn } from './support/helpers';

/** An object-mode destination with the default highWaterMark whose writes complete when the test says. */
function heldSink(): {
  sink: Writable;
  batches: number[][];
  release: () => void;
  nextWrite: () => Promise<void>;
} {
  const batches: number[][] = [];
  const held: (() => void)[] = [];
  let arrived = deferred();
  const sink = new Writable({
    objectMode: true,
    write(batch: number[], _encoding, callback) {
      batches.push(batch);
      held.push(callback);
      arrived.resolve();
    },
  });
  return {
    sink,
    batches,
    release: () => held.shift()!(),
    nextWrite: async () => {
      await arrived.promise;
      arrived = deferred();
    },
  };
}

/** Writes each item in a turn of its own, so none joins another's batch by sharing a turn. */
async function writeInTurns(stream: AsyncBatchStream<number>, items: number[]): Promise<void> {
  for (const item of items) {
    stream.write(item);
    await nextTurn();
    await nextTurn();
  }
}

describe('AsyncBatchStream: a pipe destination still holding a batch counts as busy (semantics 15)', () => {
  for (const how of ['pipe()', 'stream.pipeline()'] as const) {
    it(`gathers writes into the open batch while a ${how} destination is still writing`, async () => {
      const t = new AsyncBatchStream<number>({ size: 100, objectMode: true });
      const { sink, batches, release, nextWrite } = heldSink();
      const finished = once(sink, 'finish');
      const done = how === 'pipe()' ? (t.pipe(sink), finished) : pipeline(t, sink);
      t.write(1);
      await nextWrite();
      await writeInTurns(t, [2, 3, 4]);
      // Not three small batches queued in the destination: one waits, growing.
      expect(batches).to.deep.equal([[1]]);
      expect(sink.writableLength).to.equal(1);
      expect(t.stats.pendingUnits).to.equal(3);
      release();
      await nextWrite();
      expect(batches).to.deep.equal([[1], [2, 3, 4]]);
      await writeInTurns(t, [5]);
      t.end();
      release();
      await nextWrite();
      release();
      await done;
      expect(batches).to.deep.equal([[1], [2, 3, 4], [5]]);
    });
  }

  it('hands the waiting batch to the readable side once the busy destination is unpiped', async () => {
    const t = new AsyncBatchStream<number>({ size: 100, objectMode: true });
    const { sink, release, nextWrite } = heldSink();
    t.pipe(sink);
    t.write(1);
    await nextWrite();
    await writeInTurns(t, [2]);
    expect(t.stats.pendingUnits).to.equal(1);
    const readable = once(t, 'readable');
    t.unpipe(sink);
    await readable;
    expect(t.read()).to.deep.equal([2]);
    release(); // a late completion changes nothing
    await writeInTurns(t, [3]);
    expect(t.read()).to.deep.equal([3]);
  });

  it('leaves a destination with a write() of its own to Node’s pipe, unchanged', async () => {
    const t = new AsyncBatchStream<number>({ size: 100, objectMode: true });
    const received: number[][][] = [];
    const sink = new BatchingWritable<number[]>({
      size: 10,
      objectMode: true,
      onBatch: (batch) => void received.push(batch),
    });
    t.pipe(sink);
    // Node's own listener stays in place: the stream follows no write of it.
    expect(t.rawListeners('data')).to.have.length(1);
    expect(t.rawListeners('data')).to.deep.equal(t.listeners('data'));
    const finished = once(sink, 'finish');
    await writeInTurns(t, [1, 2, 3]);
    t.end();
    await finished;
    expect(received.flat(2)).to.deep.equal([1, 2, 3]);
  });

  it('keeps Node’s pause and drain for a destination whose write() returns false', async () => {
    const t = new AsyncBatchStream({ size: 8 });
    const received: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 4,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setImmediate(callback);
      },
    });
    const done = pipeline(t, sink);
    const text = 'abcdefghijklmnopqrstuvwxyz';
    for (const letter of text) {
      t.write(letter);
      await nextTurn();
    }
    t.end();
    await done;
    expect(Buffer.concat(received).toString()).to.equal(text);
    expect(t.listeners('data')).to.deep.equal([]);
  });
});
