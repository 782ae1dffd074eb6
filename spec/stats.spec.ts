import { expect } from 'chai';
import FakeTimers from '@sinonjs/fake-timers';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';
import { deferred, nextTurn } from './support/helpers';

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
