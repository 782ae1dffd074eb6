import { expect } from 'chai';
import FakeTimers from '@sinonjs/fake-timers';
import { once } from 'node:events';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';
import { deferred, nextTurn } from './support/helpers';

describe('Node conventions', () => {
  describe('stats', () => {
    it('counts batches, units and the largest batch of a BatchingWritable', async () => {
      const w = new BatchingWritable({ size: 4, onBatch: () => {} });
      for (const c of ['ab', 'cd', 'e', '123456']) w.write(c);
      await w.flush();
      expect(w.stats).to.include({ batches: 3, units: 11, largestBatch: 6, pendingUnits: 0 });
    });

    it('measures how long onBatch held the stream', async () => {
      const clock = FakeTimers.install({ toFake: ['performance'] });
      try {
        const gates = [deferred(), deferred()];
        let call = 0;
        const w = new BatchingWritable({ size: 4, onBatch: () => gates[call++].promise });
        w.write('a');
        await nextTurn();
        clock.tick(20);
        w.write('b');
        gates[0].resolve();
        await nextTurn();
        clock.tick(5);
        gates[1].resolve();
        await w.flush();
        expect(w.stats).to.include({ batches: 2, busyMs: 25, maxBusyMs: 20, lastBusyMs: 5 });
      } finally {
        clock.uninstall();
      }
    });

    it('gives busy times in whole microseconds', async () => {
      const clock = FakeTimers.install({ toFake: ['performance'] });
      try {
        const gate = deferred();
        const w = new BatchingWritable({ size: 4, onBatch: () => gate.promise });
        w.write('a');
        await nextTurn();
        clock.tick(1.2345678);
        gate.resolve();
        await w.flush();
        expect(w.stats).to.include({ busyMs: 1.235, maxBusyMs: 1.235, lastBusyMs: 1.235 });
      } finally {
        clock.uninstall();
      }
    });

    it('counts items pushed by an AsyncBatchStream, and the open batch', async () => {
      const t = new AsyncBatchStream<number>({ size: 3, objectMode: true, maxDelay: Infinity });
      for (let i = 0; i < 7; i++) t.write(i);
      await nextTurn();
      t.read();
      await nextTurn();
      expect(t.stats).to.include({ batches: 2, units: 6, largestBatch: 3, pendingUnits: 1 });
    });
  });

  describe('ready()', () => {
    it('resolves at once while write() would not ask to wait', async () => {
      const w = new BatchingWritable({ size: 4, onBatch: () => {} });
      await w.ready();
    });

    it('shares one promise among every producer until the next drain', async () => {
      const gate = deferred();
      const w = new BatchingWritable({ size: 2, highWaterMark: 2, onBatch: () => gate.promise });
      let ok = true;
      for (let i = 0; ok; i++) ok = w.write('x');
      const waits = Array.from({ length: 1000 }, () => w.ready());
      expect(new Set(waits).size).to.equal(1);
      expect(w.listenerCount('drain')).to.be.at.most(1);
      gate.resolve();
      await Promise.all(waits);
      expect(w.writableNeedDrain).to.equal(false);
    });

    it('rejects waiting producers when the stream is destroyed', async () => {
      const w = new BatchingWritable({ size: 1, highWaterMark: 1, onBatch: () => new Promise(() => {}) });
      w.on('error', () => {});
      while (w.write('x'));
      const waiting = w.ready();
      const boom = new Error('boom');
      w.destroy(boom);
      const error = await waiting.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).to.equal(boom);
    });

    it('rejects after end() with ERR_STREAM_WRITE_AFTER_END', async () => {
      const w = new BatchingWritable({ size: 1, onBatch: () => {} });
      w.end();
      const error = await w.ready().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).to.have.property('code', 'ERR_STREAM_WRITE_AFTER_END');
    });
  });

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
});
