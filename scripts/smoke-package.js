'use strict';
/**
 * A smoke test of the installed package, in plain CommonJS so it runs on any
 * Node version without a compiler: `node scripts/smoke-package.js` from a
 * project where `mwsr` is installed (scripts/check-package.sh does that, and
 * runs it under other Node versions too). Exercises both classes in both
 * modes, the error path, `ready()`, `stats`, `Symbol.asyncDispose` where the
 * runtime has it, and a worker thread writing into a WorkerChannel. Prints one
 * line and exits 0, or throws.
 */
const assert = require('node:assert');
const { Readable, Transform, Writable } = require('node:stream');
const { finished, pipeline } = require('node:stream/promises');
const { Worker } = require('node:worker_threads');
const mwsr = require('mwsr');

const { AsyncBatchStream, BatchingWritable, WorkerChannel } = mwsr;

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function bytes() {
  const batches = [];
  const w = new BatchingWritable({
    size: 8,
    onBatch: async (batch) => {
      batches.push(batch);
      await tick();
    },
  });
  assert.ok(w instanceof Writable);
  for (const chunk of ['ab', 'cd', Buffer.from('efgh'), 'ij']) w.write(chunk);
  w.writeV(['kl', 'mn']);
  await w.flush();
  w.write('op');
  w.end();
  await finished(w);
  assert.strictEqual(Buffer.concat(batches).toString(), 'abcdefghijklmnop');
  assert.ok(batches.every((batch) => batch.length >= 1 && batch.length <= 8));
  assert.strictEqual(w.stats.units, 16);
  assert.strictEqual(w.stats.batches, batches.length);
}

async function objects() {
  const got = [];
  const t = new AsyncBatchStream({ size: 3, objectMode: true });
  assert.ok(t instanceof Transform);
  await pipeline(Readable.from([1, 2, 3, 4, 5, 6, 7]), t, async (source) => {
    for await (const batch of source) {
      assert.ok(Array.isArray(batch) && batch.length >= 1 && batch.length <= 3);
      got.push(...batch);
    }
  });
  assert.deepStrictEqual(got, [1, 2, 3, 4, 5, 6, 7]);
}

async function failure() {
  const boom = new Error('boom');
  const w = new BatchingWritable({ size: 4, objectMode: true, onBatch: () => Promise.reject(boom) });
  w.on('error', () => {});
  w.write({ a: 1 });
  await assert.rejects(w.flush(), (error) => error === boom);
  assert.ok(w.destroyed);
  assert.throws(() => new BatchingWritable({ size: 0, onBatch: () => {} }), { code: 'ERR_OUT_OF_RANGE' });
}

async function backpressure() {
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  const w = new BatchingWritable({ size: 2, highWaterMark: 2, onBatch: () => gate });
  while (w.write('x'));
  const waiting = w.ready();
  release();
  await waiting;
  assert.strictEqual(w.writableNeedDrain, false);
  if (typeof Symbol.asyncDispose === 'symbol') {
    w.write('y');
    await w[Symbol.asyncDispose]();
    assert.ok(w.writableFinished);
  }
}

async function workers() {
  const channel = new WorkerChannel({ size: 64 });
  const handle = channel.createWriter();
  const code = `
    const { workerData } = require('node:worker_threads');
    const { WorkerWritable } = require(${JSON.stringify(require.resolve('mwsr'))});
    const out = new WorkerWritable(workerData.handle);
    for (let i = 0; i < 100; i++) out.write('line ' + i + '\\n');
    out.end();
  `;
  const worker = new Worker(code, { eval: true, workerData: { handle }, transferList: [handle.port] });
  const chunks = [];
  for await (const batch of channel) {
    assert.ok(batch.length >= 1 && batch.length <= 64); // lines are shorter than size
    chunks.push(batch);
  }
  const expected = Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join('');
  assert.strictEqual(Buffer.concat(chunks).toString(), expected);
  await new Promise((resolve) => worker.once('exit', resolve));
}

async function main() {
  await bytes();
  await objects();
  await failure();
  await backpressure();
  await workers();
  const dispose = typeof Symbol.asyncDispose === 'symbol' ? 'with' : 'without';
  console.log(`mwsr smoke test passed on Node ${process.version} (${dispose} Symbol.asyncDispose)`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
