import { expect } from 'chai';
import { BatchingWritable } from '../lib/index';
import { deferred } from './support/helpers';

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
