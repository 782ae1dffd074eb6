import { expect } from 'chai';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { BatchingWritable } from '../lib/index';
import { behavesLikeBatcher } from './support/behaves-like-batcher';
import { harnessFor } from './support/harness';
import { deferred, mustCall, nextTurn } from './support/helpers';

describe('BatchingWritable', () => {
  behavesLikeBatcher(harnessFor.BatchingWritable);

  describe('semantics 1: a stream.Writable', () => {
    it('is an instance of node:stream Writable', () => {
      const w = new BatchingWritable({ size: 4, onBatch: () => {} });
      expect(w).to.be.instanceOf(Writable);
    });

    it('gives onBatch a Buffer in byte mode and an array in object mode', async () => {
      const bytes: unknown[] = [];
      const items: unknown[] = [];
      const b = new BatchingWritable({ size: 8, onBatch: (batch) => void bytes.push(batch) });
      const o = new BatchingWritable<{ n: number }>({
        size: 8,
        objectMode: true,
        onBatch: (batch) => void items.push(batch),
      });
      b.write('hi');
      o.write({ n: 1 });
      await Promise.all([b.flush(), o.flush()]);
      expect(Buffer.isBuffer(bytes[0])).to.equal(true);
      expect(items[0]).to.deep.equal([{ n: 1 }]);
    });

    it('calls onBatch with the stream as this', async () => {
      let self: unknown;
      const w = new BatchingWritable({
        size: 4,
        onBatch(this: unknown) {
          self = this;
        },
      });
      w.write('a');
      await w.flush();
      expect(self).to.equal(w);
    });
  });

  describe('semantics 3: bounds in byte mode', () => {
    it('hands a chunk of size bytes or more over alone and whole', async () => {
      const got: string[] = [];
      const w = new BatchingWritable({ size: 4, onBatch: (b) => void got.push(b.toString()) });
      w.write('ab');
      w.write('0123456789');
      w.write('cd');
      w.write('WXYZ');
      await w.flush();
      expect(got).to.deep.equal(['ab', '0123456789', 'cd', 'WXYZ']);
    });

    it('never splits a chunk smaller than size', async () => {
      const got: string[] = [];
      const w = new BatchingWritable({ size: 5, onBatch: (b) => void got.push(b.toString()) });
      for (const c of ['abc', 'def', 'gh', 'ijk', 'l']) w.write(c);
      await w.flush();
      expect(got).to.deep.equal(['abc', 'defgh', 'ijkl']);
    });

    it('copies a large chunk, so the writer may reuse it', async () => {
      let batch: Buffer | undefined;
      const w = new BatchingWritable({ size: 4, onBatch: (b) => void (batch = b) });
      const big = Buffer.from('0123456789');
      await new Promise<void>((resolve) => w.write(big, () => resolve()));
      big.fill('x');
      await w.flush();
      expect(String(batch)).to.equal('0123456789');
    });

    it('decodes strings with the encoding given', async () => {
      const got: Buffer[] = [];
      const w = new BatchingWritable({ size: 16, defaultEncoding: 'hex', onBatch: (b) => void got.push(b) });
      w.write('6869');
      w.write('aGk=', 'base64');
      w.writeV(['21', '21']);
      await w.flush();
      expect(Buffer.concat(got).toString()).to.equal('hihi!!');
    });

    // ASCII text takes a shortcut (copied as latin1); the rest must not.
    const texts = ['plain ascii', 'café', 'ÿ', '日本', '😀', '\ud800', 'a\u0100b'];
    for (const encoding of ['utf8', 'utf-8', 'UTF8', 'Utf-8'] as BufferEncoding[]) {
      it(`encodes text as UTF-8 given as '${encoding}', byte for byte as Buffer.from`, async () => {
        const got: Buffer[] = [];
        const w = new BatchingWritable({
          size: 64,
          defaultEncoding: encoding,
          onBatch: (b) => void got.push(b),
        });
        for (const text of texts) w.write(text);
        for (const text of texts) w.write(text, encoding);
        await w.flush();
        const expected = Buffer.from([...texts, ...texts].join(''), 'utf8');
        expect(Buffer.concat(got).toString('hex')).to.equal(expected.toString('hex'));
      });
    }
  });

  describe('write callbacks, when onBatch writes', () => {
    for (const [path, write] of [
      ['the fast path', (w: BatchingWritable, cb: () => void) => w.write(Buffer.from('z'), cb)],
      ["Node's path", (w: BatchingWritable, cb: () => void) => w.write('z', 'latin1', cb)],
    ] as const) {
      it(`calls them in write order, through ${path}, while earlier ones wait for the drain`, async () => {
        const log: string[] = [];
        let first = true;
        const w: BatchingWritable = new BatchingWritable({
          size: 4,
          highWaterMark: 2,
          onBatch: () => {
            if (!first) return;
            first = false;
            // Below the limit again, before the drain tick is queued.
            expect(write(w, () => log.push('z'))).to.equal(true);
          },
        });
        w.write(Buffer.from('aaaa'));
        w.write(Buffer.from('b'), () => log.push('b'));
        expect(w.write(Buffer.from('cc'), () => log.push('c'))).to.equal(false);
        await once(w, 'drain');
        await w.flush();
        expect(log).to.deep.equal(['b', 'c', 'z']);
      });
    }
  });

  describe('semantics 10: onBatch failing', () => {
    const failures = {
      'a synchronous throw': (error: unknown) => () => {
        throw error;
      },
      'a rejection': (error: unknown) => () => Promise.reject(error),
    };
    for (const [how, failWith] of Object.entries(failures)) {
      it(`destroys the stream with the same error object on ${how}`, async () => {
        const boom = new Error('boom');
        const w = new BatchingWritable({ size: 4, onBatch: failWith(boom) });
        const onError = mustCall((error: unknown) => expect(error).to.equal(boom));
        w.on('error', onError);
        w.write('a');
        const error = await w.flush().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).to.equal(boom);
        expect(w.destroyed).to.equal(true);
      });

      it(`wraps a non-Error on ${how} in an Error with cause`, async () => {
        const w = new BatchingWritable({ size: 4, onBatch: failWith('just a string') });
        const errors: Error[] = [];
        w.on('error', (e) => errors.push(e));
        w.write('a');
        const error = await w.flush().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(Error);
        expect(error).to.have.property('cause', 'just a string');
        expect(error).to.have.property('code', 'ERR_MWSR_NON_ERROR');
        await nextTurn();
        expect(errors).to.deep.equal([error]);
      });
    }

    it('never calls onBatch again after it failed', async () => {
      let calls = 0;
      const w = new BatchingWritable({
        size: 1,
        onBatch: () => {
          calls++;
          throw new Error('first');
        },
      });
      w.on('error', () => {});
      for (const c of 'abcdef') w.write(c);
      await new Promise((resolve) => w.on('close', resolve));
      await nextTurn();
      expect(calls).to.equal(1);
    });

    it('fails later writes, writeV() and flush() with an error', async () => {
      const boom = new Error('boom');
      const w = new BatchingWritable({ size: 4, onBatch: () => Promise.reject(boom) });
      w.on('error', () => {});
      w.write('a');
      await w.flush().catch(() => {});
      const writeError = await new Promise((resolve) => w.write('b', resolve));
      const writeVError = await new Promise((resolve) => w.writeV(['b', 'c'], resolve));
      const flushError = await w.flush().then(
        () => null,
        (e: unknown) => e,
      );
      expect(writeError).to.be.an('error');
      expect(writeVError).to.be.an('error');
      expect(flushError).to.equal(boom);
    });

    it('lets no rejection escape when onBatch rejects after destroy', async () => {
      const unhandled: unknown[] = [];
      const record = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', record);
      try {
        const gate = deferred();
        const w = new BatchingWritable({ size: 4, onBatch: () => gate.promise });
        w.write('a');
        await nextTurn();
        w.destroy();
        gate.reject(new Error('late'));
        await nextTurn();
        await nextTurn();
        expect(unhandled).to.deep.equal([]);
      } finally {
        process.off('unhandledRejection', record);
      }
    });
  });

  describe('errors as a plain Writable gives them', () => {
    it('throws the same error for a wrong chunk type in write() and writeV()', () => {
      const plain = new Writable({ write: (_c, _e, cb) => cb() });
      const w = new BatchingWritable({ size: 4, onBatch: () => {} });
      for (const bad of [123, {}, true, undefined]) {
        let expected: (Error & { code?: string }) | undefined;
        try {
          plain.write(bad);
        } catch (e) {
          expected = e as Error;
        }
        expect(() => w.write(bad as never)).to.throw(TypeError, expected!.message);
        expect(() => w.writeV(['ok', bad] as never))
          .to.throw(TypeError, expected!.message)
          .with.property('code', expected!.code);
      }
    });
  });
});
