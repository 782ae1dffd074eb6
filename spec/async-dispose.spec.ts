import { expect } from 'chai';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';
import { nextTurn } from './support/helpers';

describe('Symbol.asyncDispose', () => {
  it('ends a BatchingWritable and waits for every batch, instead of losing them', async () => {
    const got: string[] = [];
    {
      await using w = new BatchingWritable({
        size: 4,
        maxDelay: Infinity,
        onBatch: async (b) => {
          await nextTurn();
          got.push(String(b));
        },
      });
      w.write('ab');
      w.write('c');
    }
    expect(got).to.deep.equal(['abc']);
  });

  it('ends an AsyncBatchStream once everything was pushed', async () => {
    const t = new AsyncBatchStream({ size: 4, maxDelay: Infinity });
    t.write('xy');
    await t[Symbol.asyncDispose]();
    expect(t.writableFinished).to.equal(true);
    expect(String(t.read())).to.equal('xy');
  });

  it('leaves a destroyed stream as it is', async () => {
    const w = new BatchingWritable({ size: 4, onBatch: () => {} });
    w.destroy();
    await w[Symbol.asyncDispose]();
    expect(w.destroyed).to.equal(true);
  });
});
