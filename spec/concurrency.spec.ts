import { expect } from 'chai';
import fc from 'fast-check';
import { once } from 'node:events';
import { AsyncBatchStream, BatchingWritable } from '../lib';
import { deferred, type Deferred } from './support/helpers';

// docs/semantics.md 23: BatchingWritable's `concurrency`. Up to n onBatch
// calls at once, started in write order; the next batch grows while all n
// are busy; flush() waits for every batch holding earlier writes; 'finish'
// after the last; the first failure destroys the stream, and 'error' and
// 'close' wait for the calls still running.

const SEED = process.env.MWSR_FC_SEED === undefined ? 0x6d777372 : Number(process.env.MWSR_FC_SEED);
const RUNS = process.env.MWSR_FC_RUNS === undefined ? 100 : Number(process.env.MWSR_FC_RUNS);

/** An onBatch call: its batch, and the promise it returned, settled by the test. */
interface Call {
  batch: number[];
  result: Deferred;
  settled: boolean;
}

/** A BatchingWritable whose onBatch calls the test settles one by one, in any order. */
function controlled(
  concurrency: number,
  size = 4,
  maxDelay = 0,
): { stream: BatchingWritable<number>; calls: Call[]; running: () => Call[]; most: () => number } {
  const calls: Call[] = [];
  let most = 0;
  const running = (): Call[] => calls.filter((call) => !call.settled);
  const stream = new BatchingWritable<number>({
    objectMode: true,
    size,
    maxDelay,
    concurrency,
    onBatch: (batch) => {
      const call: Call = { batch, result: deferred(), settled: false };
      calls.push(call);
      most = Math.max(most, running().length);
      expect(stream.stats.inFlight).to.equal(running().length);
      return call.result.promise.finally(() => {
        call.settled = true;
      });
    },
  });
  return { stream, calls, running, most: () => most };
}

/** Lets the settlements and the hand-overs they cause run. */
async function settleTurn(): Promise<void> {
  await new Promise(setImmediate);
  await new Promise(setImmediate);
}

describe('concurrency (docs/semantics.md 23)', () => {
  describe('options', () => {
    const make = (concurrency: unknown) => () =>
      new BatchingWritable({ size: 1, concurrency, onBatch: () => {} } as never);
    for (const bad of ['2', null, 2n]) {
      it(`BatchingWritable refuses concurrency ${String(bad)} with TypeError ERR_INVALID_ARG_TYPE`, () => {
        expect(make(bad)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      });
    }
    for (const bad of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
      it(`BatchingWritable refuses concurrency ${bad} with RangeError ERR_OUT_OF_RANGE`, () => {
        expect(make(bad)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      });
    }
    it('BatchingWritable takes concurrency 1, 5, or none', () => {
      for (const good of [1, 5, undefined]) expect(make(good)).not.to.throw();
    });
    for (const value of [1, 2]) {
      it(`AsyncBatchStream refuses concurrency ${value} with TypeError ERR_INVALID_ARG_VALUE`, () => {
        expect(() => new AsyncBatchStream({ size: 1, concurrency: value } as never))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_VALUE');
      });
    }
  });

  it('runs up to n calls at once, in write order, while the next batch grows', async () => {
    const { stream, calls, running } = controlled(2, 2);
    for (let i = 0; i < 3; i++) stream.write(i);
    await settleTurn();
    // [0, 1] was full; [2] went next, as a slot was free.
    expect(calls.map((call) => call.batch)).to.deep.equal([[0, 1], [2]]);
    expect(stream.stats.inFlight).to.equal(2);
    for (let i = 3; i < 8; i++) stream.write(i);
    await settleTurn();
    expect(calls).to.have.length(2); // both busy: the rest waits, in full batches and the open one
    expect(stream.stats.pendingUnits).to.equal(5);
    calls[1].result.resolve(); // the later call settles first
    await settleTurn();
    expect(calls.map((call) => call.batch)).to.deep.equal([[0, 1], [2], [3, 4]]);
    expect(running()).to.have.length(2);
    const flushed = stream.flush();
    let flushDone = false;
    void flushed.then(() => (flushDone = true));
    calls[2].result.resolve();
    calls[3]?.result.resolve();
    await settleTurn();
    for (const call of calls.slice(3)) call.result.resolve();
    await settleTurn();
    // Everything after [0, 1] settled, but [0, 1] has not: flush() waits for it.
    expect(flushDone).to.equal(false);
    calls[0].result.resolve();
    while (!flushDone) {
      for (const call of running()) call.result.resolve();
      await settleTurn();
    }
    expect(calls.flatMap((call) => call.batch)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(stream.stats.inFlight).to.equal(0);
    stream.destroy();
  });

  it("'finish' comes after the last call settled, not after the last started", async () => {
    const { stream, calls } = controlled(3, 1);
    const finished = once(stream, 'finish');
    let finishedYet = false;
    void finished.then(() => (finishedYet = true));
    stream.write(1);
    stream.write(2);
    stream.end(3);
    await settleTurn();
    expect(calls).to.have.length(3);
    calls[2].result.resolve();
    calls[1].result.resolve();
    await settleTurn();
    expect(finishedYet).to.equal(false);
    calls[0].result.resolve();
    await finished;
  });

  for (const n of [1, 2, 5]) {
    it(`keeps order, bounds and flush() with concurrency ${n}, settled in any order (fast-check)`, async () => {
      const action = fc.oneof(
        { weight: 5, arbitrary: fc.constant({ kind: 'write' as const, pick: 0 }) },
        { weight: 3, arbitrary: fc.nat(9).map((pick) => ({ kind: 'settle' as const, pick })) },
        { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const, pick: 0 }) },
        { weight: 2, arbitrary: fc.constant({ kind: 'turn' as const, pick: 0 }) },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 4 }),
          fc.array(action, { maxLength: 40 }),
          async (size, actions) => {
            const { stream, calls, running, most } = controlled(n, size);
            const finished = once(stream, 'finish');
            const flushes: Promise<void>[] = [];
            let written = 0;
            /** When a flush resolves, every batch holding a write made before it must have settled. */
            const checkFlush = (before: number) => () => {
              for (const call of calls) {
                if (call.batch.some((item) => item < before)) expect(call.settled).to.equal(true);
              }
            };
            for (const step of actions) {
              if (step.kind === 'write') {
                stream.write(written++);
              } else if (step.kind === 'settle') {
                const open = running();
                if (open.length > 0) open[step.pick % open.length].result.resolve();
              } else if (step.kind === 'flush') {
                flushes.push(stream.flush().then(checkFlush(written)));
              }
              await new Promise(setImmediate);
              expect(stream.stats.inFlight).to.equal(running().length);
            }
            stream.end();
            // Settle everything still running, in hand-over order from the last.
            while (!stream.writableFinished) {
              const open = running();
              if (open.length > 0) open[open.length - 1].result.resolve();
              await new Promise(setImmediate);
            }
            await finished;
            await Promise.all(flushes);
            expect(calls.flatMap((call) => call.batch)).to.deep.equal([...Array(written).keys()]);
            for (const call of calls) expect(call.batch.length).to.be.within(1, size);
            expect(most()).to.be.at.most(n);
            expect(calls.every((call) => call.settled)).to.equal(true);
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }

  it('uses all n slots under load: a consumer of fixed latency gets n batches at once', async () => {
    const { stream, calls, most } = controlled(5, 10);
    for (let i = 0; i < 100; i++) stream.write(i);
    await settleTurn();
    expect(most()).to.equal(5);
    expect(calls).to.have.length(5);
    stream.destroy();
  });

  describe('failure', () => {
    for (const n of [2, 5]) {
      it(`with concurrency ${n}: the first failure destroys the stream; 'error' and 'close' wait for the calls still running`, async () => {
        const { stream, calls, running } = controlled(n, 1);
        const events: string[] = [];
        stream.on('error', (error) => events.push(`error ${error.message}`));
        stream.on('close', () => events.push('close'));
        for (let i = 0; i < n + 3; i++) stream.write(i);
        await settleTurn();
        expect(calls).to.have.length(n);
        const flushed = stream.flush().then(
          () => 'resolved',
          (error: unknown) => error,
        );
        const first = new Error('first');
        calls[1].result.reject(first);
        await settleTurn();
        expect(stream.destroyed).to.equal(true);
        expect(events).to.deep.equal([]); // calls[0] (and others) still run
        expect(await flushed).to.equal(first);
        expect(stream.stats.inFlight).to.equal(n - 1);
        // A later failure is not reported: the stream's error is the first.
        calls[0].result.reject(new Error('second'));
        for (const call of calls.slice(2)) call.result.resolve();
        // (events.once would reject at the 'error' before it.)
        await new Promise((resolve) => stream.once('close', resolve));
        expect(events).to.deep.equal(['error first', 'close']);
        expect(calls).to.have.length(n); // none started after the failure
        expect(running()).to.deep.equal([]);
        expect(stream.stats.inFlight).to.equal(0);
      });
    }

    it("with concurrency 1 (the default), destroy() during a call does not wait for it: 'close' comes at once, as before", async () => {
      const { stream, calls } = controlled(1, 1);
      stream.write(1);
      await settleTurn();
      expect(calls).to.have.length(1);
      stream.destroy();
      await once(stream, 'close');
      expect(calls[0].settled).to.equal(false);
      calls[0].result.resolve();
    });

    it("with concurrency 3, destroy() waits for the running calls before 'close'", async () => {
      const { stream, calls } = controlled(3, 1);
      stream.write(1);
      stream.write(2);
      await settleTurn();
      let closed = false;
      stream.on('close', () => (closed = true));
      stream.destroy();
      await settleTurn();
      expect(closed).to.equal(false);
      calls[0].result.resolve();
      calls[1].result.resolve();
      await once(stream, 'close');
    });

    it('a call that throws synchronously fails the stream at once, the others still awaited', async () => {
      const boom = new Error('boom');
      const pending = deferred();
      let calls = 0;
      const stream = new BatchingWritable<number>({
        objectMode: true,
        size: 1,
        concurrency: 2,
        onBatch: () => {
          calls++;
          if (calls === 2) throw boom;
          return pending.promise;
        },
      });
      stream.write(1);
      stream.write(2);
      const failed = once(stream, 'error');
      let failedYet = false;
      void failed.then(() => (failedYet = true));
      await settleTurn();
      expect(stream.destroyed).to.equal(true);
      expect(failedYet).to.equal(false);
      pending.resolve();
      expect((await failed)[0]).to.equal(boom);
    });
    // Found by the differential oracle: a call that destroyed the stream from
    // inside and returned (or threw) at once was never counted as ended, so
    // 'close' never came.
    for (const how of ['returns', 'throws'] as const) {
      it(`destroy() from inside a call that ${how} at once still closes the stream (concurrency 2)`, async () => {
        const stream = new BatchingWritable<number>({
          objectMode: true,
          size: 1,
          concurrency: 2,
          onBatch: () => {
            stream.destroy();
            if (how === 'throws') throw new Error('after destroy');
          },
        });
        const closed = once(stream, 'close');
        stream.write(1);
        await closed;
        expect(stream.stats.inFlight).to.equal(0);
        expect(stream.errored).to.equal(null);
      });
    }
  });
});
