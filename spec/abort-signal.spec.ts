import { expect } from 'chai';
import { once } from 'node:events';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';
import { nextTurn } from './support/helpers';

describe('signal', () => {
  for (const [name, make] of [
    [
      'BatchingWritable',
      (signal: AbortSignal) =>
        new BatchingWritable({ size: 4, signal, onBatch: () => new Promise(() => {}) }),
    ],
    ['AsyncBatchStream', (signal: AbortSignal) => new AsyncBatchStream({ size: 4, signal })],
  ] as const) {
    it(`destroys a ${name} with an AbortError and rejects a waiting flush()`, async () => {
      const controller = new AbortController();
      const s = make(controller.signal);
      const errored = once(s, 'error');
      s.write('a');
      await nextTurn();
      s.write('b');
      const flushed = s.flush().then(
        () => null,
        (e: unknown) => e,
      );
      controller.abort();
      const [error] = (await errored) as unknown[];
      expect(error).to.have.property('name', 'AbortError');
      expect(await flushed).to.equal(error);
      expect(s.destroyed).to.equal(true);
    });
  }
});
