import { expect } from 'chai';
import { once } from 'node:events';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncBatchStream } from '../lib/index';
import { behavesLikeBatcher } from './support/behaves-like-batcher';
import { harnessFor } from './support/harness';
import { nextTurn } from './support/helpers';

describe('AsyncBatchStream', () => {
  behavesLikeBatcher(harnessFor.AsyncBatchStream);

  describe('a stream.Transform of batches', () => {
    it('is an instance of node:stream Transform', () => {
      expect(new AsyncBatchStream({ size: 4 })).to.be.instanceOf(Transform);
    });

    it('reads one batch per chunk, in object mode, never merged', async () => {
      const t = new AsyncBatchStream({ size: 3 });
      expect(t.readableObjectMode).to.equal(true);
      for (const c of ['ab', 'c', 'de']) t.write(c);
      t.end();
      const batches: Buffer[] = [];
      for await (const batch of t) batches.push(batch);
      expect(batches.map(String)).to.deep.equal(['abc', 'de']);
    });

    it('counts readableHighWaterMark in batches, 1 by default, and highWaterMark on the writable side only', () => {
      const t = new AsyncBatchStream({ size: 3, highWaterMark: 100 });
      expect(t.readableHighWaterMark).to.equal(1);
      expect(t.writableHighWaterMark).to.equal(100);
      const u = new AsyncBatchStream({ size: 3, objectMode: true, readableHighWaterMark: 4 });
      expect(u.readableHighWaterMark).to.equal(4);
      expect(u.writableObjectMode).to.equal(true);
    });

    it('fills batches fuller the slower downstream reads', async () => {
      // One write per event-loop turn; the sink takes `turns` turns per batch.
      const meanBatch = async (turns: number): Promise<number> => {
        const t = new AsyncBatchStream<number>({ size: 50, objectMode: true });
        const seen: number[] = [];
        const sink = new Writable({
          objectMode: true,
          write(batch: number[], _e, cb) {
            seen.push(batch.length);
            let left = turns;
            const step = (): void => void (left-- > 0 ? setImmediate(step) : cb());
            step();
          },
        });
        const done = pipeline(t, sink);
        for (let i = 0; i < 300; i++) {
          t.write(i);
          await nextTurn();
        }
        t.end();
        await done;
        expect(seen.reduce((a, b) => a + b, 0)).to.equal(300);
        for (const n of seen) expect(n).to.be.within(1, 50);
        return 300 / seen.length;
      };
      const fast = await meanBatch(0);
      const slow = await meanBatch(8);
      expect(slow).to.be.greaterThan(2 * fast);
    });

    it('pushes the last partial batch at end(), then ends the readable side', async () => {
      const t = new AsyncBatchStream<string>({ size: 10, objectMode: true, maxDelay: Infinity });
      t.write('a');
      t.write('b');
      t.end();
      const batches: string[][] = [];
      t.on('data', (b: string[]) => batches.push(b));
      await once(t, 'end');
      expect(batches).to.deep.equal([['a', 'b']]);
    });

    it('resolves flush() once pushed, before downstream reads it', async () => {
      const t = new AsyncBatchStream({ size: 10 });
      t.write('abc');
      await t.flush();
      expect(t.readableLength).to.equal(1);
      expect(String(t.read())).to.equal('abc');
    });

    it('waits for downstream before pushing another batch', async () => {
      const t = new AsyncBatchStream({ size: 2 });
      for (const c of 'abcdef') t.write(c);
      await nextTurn();
      expect(t.readableLength).to.equal(1);
      const got: string[] = [];
      let batch: Buffer | null;
      while ((batch = t.read() as Buffer | null) !== null) {
        got.push(String(batch));
        await nextTurn();
      }
      expect(got.join('')).to.equal('abcdef');
    });
  });
});
