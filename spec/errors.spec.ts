import { expect } from 'chai';
import { Writable } from 'node:stream';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';

/** What `fn` threw, or fails the spec. */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  expect.fail('no throw');
}

/** What a plain byte-mode Writable's write() throws for `chunk`. */
function plainWriteError(chunk: unknown): Error & { code?: string } {
  const plain = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  return thrown(() => plain.write(chunk));
}

/** Errors with Node's classes, codes and messages, built by lib/errors.ts. */
describe('errors (lib/errors.ts, through the public API)', () => {
  describe('writeV() refuses a chunk with the error a plain Writable gives (semantics 11)', () => {
    const chunks: [string, unknown][] = [
      ['a named function', function namedProducer() {}],
      ['an object with a null prototype', Object.create(null)],
      ['an instance of a class', new (class Row {})()],
      ['a number', 42],
      ['a boolean', true],
      ['a bigint', 12n],
      ['an anonymous function', () => {}],
      ['a symbol with a long description', Symbol('a description longer than twenty-eight characters')],
      ['a number in exponent form', 1.234e34],
    ];
    for (const [face, make] of [
      ['BatchingWritable', () => new BatchingWritable({ size: 8, onBatch: () => {} })],
      ['AsyncBatchStream', () => new AsyncBatchStream({ size: 8 })],
    ] as const) {
      for (const [what, chunk] of chunks) {
        it(`${face}: ${what}`, () => {
          const expected = plainWriteError(chunk);
          const error = thrown(() => make().writeV(['ok', chunk as string])); // deliberately the wrong type
          expect(error).to.be.instanceOf(TypeError);
          expect(error.code).to.equal(expected.code).and.to.equal('ERR_INVALID_ARG_TYPE');
          expect(error.message).to.equal(expected.message);
        });
      }
    }
  });

  it('quotes a huge size in exponent form, without digit separators inside it', () => {
    const error = thrown(() => new BatchingWritable({ size: 1.2345e21, onBatch: () => {} }));
    expect(error).to.be.instanceOf(RangeError);
    expect(error.code).to.equal('ERR_OUT_OF_RANGE');
    expect(error.message).to.match(/"options\.size" is out of range\. .* Received 1\.2345e\+21$/);
  });

  it('quotes a large negative integer with digit separators, as Node does', () => {
    const error = thrown(() => new AsyncBatchStream({ size: 1, maxDelay: -(2 ** 60) }));
    expect(error).to.be.instanceOf(RangeError);
    expect(error.code).to.equal('ERR_OUT_OF_RANGE');
    expect(error.message).to.match(
      /"options\.maxDelay" is out of range\. .* Received -1_152_921_504_606_847_000$/,
    );
  });

  it('rejects a waiting ready() with ERR_STREAM_DESTROYED when destroyed without an error', async () => {
    const w = new BatchingWritable({ size: 1, highWaterMark: 1, onBatch: () => new Promise(() => {}) });
    while (w.write('x'));
    const waiting = w.ready();
    w.destroy();
    const error = await waiting.then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error).to.be.instanceOf(Error);
    expect(error?.code).to.equal('ERR_STREAM_DESTROYED');
    expect(error?.message).to.match(/^Cannot call \w+ after a stream was destroyed$/);
  });
});
