import { expect } from 'chai';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { BatchingWritable, type BatchDone } from '../lib/index';
import { deferred, nextTurn } from './support/helpers';

type Consumer = (batch: Buffer | unknown[], done: BatchDone) => void | PromiseLike<unknown>;

const MODES = ['bytes', 'objects'] as const;

/** A stream of either mode; its chunks are one-letter strings, or the same letters as items. */
function sink(mode: (typeof MODES)[number], onBatch: Consumer, size = 2): BatchingWritable<unknown> {
  return mode === 'bytes'
    ? new BatchingWritable({ size, onBatch })
    : new BatchingWritable({ objectMode: true, size, onBatch });
}

/** What the batches hold, in order: one string per letter written. */
function unitsOf(batches: (Buffer | unknown[])[]): unknown[] {
  return batches.flatMap((batch) => (Buffer.isBuffer(batch) ? [...batch.toString('latin1')] : batch));
}

/** The error the stream is destroyed with. */
async function errorOf(stream: Writable): Promise<unknown> {
  const [error] = (await once(stream, 'error').catch((e: unknown) => [e])) as unknown[];
  return error;
}

/** What a plain Writable gives when its write callback runs twice. */
async function nodeMultipleCallback(): Promise<Error & { code?: string }> {
  const plain = new Writable({
    write(_chunk, _encoding, callback) {
      callback();
      callback();
    },
  });
  plain.write('a');
  return (await errorOf(plain)) as Error & { code?: string };
}

describe('onBatch(batch, done): a Node-style consumer (README: A Node-style onBatch)', () => {
  for (const mode of MODES) {
    describe(`in ${mode}`, () => {
      it('hands every batch over, in order, and finishes once done() was called for each', async () => {
        const batches: (Buffer | unknown[])[] = [];
        const w = sink(mode, (batch, done) => {
          batches.push(batch);
          setImmediate(done);
        });
        for (const letter of 'abcde') w.write(letter);
        w.end();
        await once(w, 'finish');
        expect(unitsOf(batches)).to.deep.equal([...'abcde']);
        expect(batches.length).to.be.at.least(3); // size 2: at least three batches
      });

      it('takes a done() called before onBatch returns', async () => {
        const batches: (Buffer | unknown[])[] = [];
        const w = sink(mode, (batch, done) => {
          batches.push(batch);
          done();
        });
        for (const letter of 'abc') w.write(letter);
        await w.flush();
        expect(unitsOf(batches)).to.deep.equal([...'abc']);
      });

      it('holds the next batch, and flush(), until done() is called', async () => {
        const dones: BatchDone[] = [];
        const w = sink(mode, (_batch, done) => {
          dones.push(done);
        });
        w.write('a');
        await nextTurn();
        expect(dones).to.have.length(1);
        w.write('b');
        let flushed = false;
        const flushing = w.flush().then(() => {
          flushed = true;
        });
        await nextTurn();
        await nextTurn();
        expect(dones).to.have.length(1);
        expect(flushed).to.equal(false);
        dones[0]();
        await nextTurn();
        expect(dones).to.have.length(2);
        expect(flushed).to.equal(false);
        dones[1]();
        await flushing;
      });

      it('destroys the stream with the error given to done(error), and calls onBatch no more', async () => {
        const failure = new Error('insert failed');
        let calls = 0;
        const w = sink(
          mode,
          (_batch, done) => {
            calls++;
            setImmediate(done, failure);
          },
          1,
        );
        w.write('a');
        const flushing = w.flush().catch((error: unknown) => error);
        w.write('b');
        expect(await errorOf(w)).to.equal(failure);
        expect(await flushing).to.equal(failure);
        await nextTurn();
        expect(calls).to.equal(1);
      });

      it('wraps a non-Error given to done() as it wraps a thrown one', async () => {
        const w = sink(mode, (_batch, done) => done('failed' as never));
        w.write('a');
        const error = (await errorOf(w)) as Error & { code?: string };
        expect(error).to.be.instanceOf(Error);
        expect(error.code).to.equal('ERR_MWSR_NON_ERROR');
        expect(error.cause).to.equal('failed');
      });

      it('settles on done(null) and done(undefined) as on done()', async () => {
        const batches: (Buffer | unknown[])[] = [];
        let call = 0;
        const w = sink(
          mode,
          (batch, done) => {
            batches.push(batch);
            done(call++ % 2 === 0 ? null : undefined);
          },
          1,
        );
        for (const letter of 'abcd') w.write(letter);
        w.end();
        await once(w, 'finish');
        expect(unitsOf(batches)).to.deep.equal([...'abcd']);
      });

      it("destroys the stream with Node's ERR_MULTIPLE_CALLBACK when done() is called twice", async () => {
        // (mustCall's wrapper would hide the second parameter: onBatch.length decides.)
        const w = sink(
          mode,
          (_batch, done) => {
            done();
            done();
          },
          1,
        );
        w.write('a');
        const error = (await errorOf(w)) as Error & { code?: string };
        const theirs = await nodeMultipleCallback();
        expect(error.code).to.equal('ERR_MULTIPLE_CALLBACK').and.equal(theirs.code);
        expect(error.message).to.equal(theirs.message);
        expect(error).to.be.instanceOf(theirs.constructor);
      });

      it('destroys the stream with what onBatch throws before calling done()', async () => {
        const failure = new Error('thrown');
        const w = sink(mode, (_batch, _done) => {
          throw failure;
        });
        w.write('a');
        expect(await errorOf(w)).to.equal(failure);
      });

      it('destroys the stream with what onBatch throws after calling done()', async () => {
        const failure = new Error('thrown after done');
        const w = sink(mode, (_batch, done) => {
          done();
          throw failure;
        });
        w.write('a');
        expect(await errorOf(w)).to.equal(failure);
      });

      it('destroys the stream when an async onBatch rejects, before or after done()', async () => {
        for (const callDone of [false, true]) {
          const failure = new Error(`rejected, done ${callDone}`);
          const w = sink(mode, async (_batch, done) => {
            await nextTurn();
            if (callDone) done();
            throw failure;
          });
          w.write('a');
          expect(await errorOf(w)).to.equal(failure);
        }
      });

      it('ignores a done() that comes after the stream was destroyed', async () => {
        const held = deferred<BatchDone>();
        const w = sink(mode, (_batch, done) => held.resolve(done));
        w.write('a');
        const done = await held.promise;
        w.destroy();
        await once(w, 'close');
        done();
        await nextTurn();
        expect(w.listenerCount('error')).to.equal(0); // no 'error' was emitted unheard
      });

      it('calls onBatch with the stream as this', async () => {
        const seen: unknown[] = [];
        const w = sink(mode, function (this: unknown, _batch, done) {
          seen.push(this);
          done();
        });
        w.write('a');
        await w.flush();
        expect(seen).to.have.length(1);
        expect(seen[0]).to.equal(w);
      });
    });
  }

  it('gives a one-parameter onBatch no done: it settles by returning', async () => {
    const seen: number[] = [];
    const gate = deferred();
    const w = new BatchingWritable({
      size: 1,
      onBatch: (...args: unknown[]) => {
        seen.push(args.length);
        return gate.promise;
      },
    });
    w.write('a');
    w.write('b');
    await nextTurn();
    expect(seen).to.deep.equal([1]);
    gate.resolve();
    await w.flush();
    expect(seen).to.deep.equal([1, 1]);
  });
});
