import { expect } from 'chai';
import { inspect } from 'node:util';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';

/** Every bad argument of semantics 11, for both classes: the class and code it gets. */
type Make = (options: Record<string, unknown>) => unknown;

const faces: Record<string, Make> = {
  BatchingWritable: (options) => new BatchingWritable({ onBatch: () => {}, ...options } as never),
  AsyncBatchStream: (options) => new AsyncBatchStream(options as never),
};

const typeErrors: [string, Record<string, unknown>][] = [
  ['a missing size', {}],
  ['size as a string', { size: '10' }],
  ['size null', { size: null }],
  ['size as a bigint', { size: 10n }],
  ['maxDelay as a string', { size: 1, maxDelay: '5' }],
  ['maxDelay null', { size: 1, maxDelay: null }],
  ['objectMode as a string', { size: 1, objectMode: 'yes' }],
];

const rangeErrors: [string, Record<string, unknown>][] = [
  ['size 0', { size: 0 }],
  ['a negative size', { size: -1 }],
  ['a fractional size', { size: 1.5 }],
  ['size NaN', { size: NaN }],
  ['size Infinity', { size: Infinity }],
  ['size above the safe maximum', { size: Number.MAX_SAFE_INTEGER + 1 }],
  ['a negative maxDelay', { size: 1, maxDelay: -1 }],
  ['maxDelay NaN', { size: 1, maxDelay: NaN }],
  ['maxDelay -Infinity', { size: 1, maxDelay: -Infinity }],
  ['a finite maxDelay above the timer limit', { size: 1, maxDelay: 2 ** 31 }],
];

describe('options (semantics 11: bad arguments throw at once)', () => {
  for (const [face, make] of Object.entries(faces)) {
    describe(face, () => {
      for (const [what, options] of typeErrors) {
        it(`refuses ${what} with TypeError ERR_INVALID_ARG_TYPE`, () => {
          expect(() => make(options))
            .to.throw(TypeError)
            .with.property('code', 'ERR_INVALID_ARG_TYPE');
        });
      }

      for (const [what, options] of rangeErrors) {
        it(`refuses ${what} with RangeError ERR_OUT_OF_RANGE`, () => {
          expect(() => make(options))
            .to.throw(RangeError)
            .with.property('code', 'ERR_OUT_OF_RANGE');
        });
      }

      for (const bad of [undefined, null, 42, 'size']) {
        it(`refuses options ${String(bad)} with TypeError ERR_INVALID_ARG_TYPE`, () => {
          const construct =
            face === 'BatchingWritable'
              ? () => new BatchingWritable(bad as never)
              : () => new AsyncBatchStream(bad as never);
          expect(construct).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
        });
      }

      it('accepts maxDelay Infinity, 0 and the timer limit', () => {
        for (const maxDelay of [Infinity, 0, 2 ** 31 - 1])
          expect(() => make({ size: 1, maxDelay })).not.to.throw();
      });

      it('quotes the value received, as Node does', () => {
        expect(() => make({ size: 0 })).to.throw(/"options\.size".*Received 0$/);
        expect(() => make({ size: '10' })).to.throw(
          /"options\.size" property must be of type number\. Received type string \('10'\)/,
        );
        expect(() => make({ size: 2 ** 60 })).to.throw(/Received 1_152_921_504_606_847_000$/);
      });

      it('points the stack at the caller, not at the error factory', () => {
        try {
          make({ size: -1 });
          expect.fail('no throw');
        } catch (error) {
          const firstFrame = String((error as Error).stack).split('\n')[1];
          expect(firstFrame).not.to.match(/errors\.ts/);
        }
      });
    });
  }

  describe('BatchingWritable onBatch', () => {
    for (const bad of [undefined, null, 'fn', {}, 1]) {
      it(`refuses onBatch ${inspect(bad)} with TypeError ERR_INVALID_ARG_TYPE`, () => {
        expect(() => new BatchingWritable({ size: 1, onBatch: bad } as never))
          .to.throw(TypeError, /"options\.onBatch" property must be of type function/)
          .with.property('code', 'ERR_INVALID_ARG_TYPE');
      });
    }

    it('cannot be bypassed by a write option that would replace its hooks', async () => {
      const got: string[] = [];
      const w = new BatchingWritable({
        size: 8,
        onBatch: (b: Buffer) => void got.push(String(b)),
        write: () => {
          throw new Error('user write must not replace _write');
        },
      } as never);
      w.write('ok');
      await w.flush();
      expect(got).to.deep.equal(['ok']);
    });
  });

  describe('writeV', () => {
    it('refuses a callback that is not a function', () => {
      const w = new BatchingWritable({ size: 8, onBatch: () => {} });
      expect(() => w.writeV(['a'], 'nope' as never))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
    });
  });
});
