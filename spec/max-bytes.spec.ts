import { expect } from 'chai';
import fc from 'fast-check';
import { once } from 'node:events';
import { AsyncBatchStream, BatchingWritable } from '../lib';
import { deferred } from './support/helpers';

// docs/semantics.md 22: object mode with a byte limit too. A batch closes at
// `size` items or at `maxBytes` as `sizeOf` weighs them, whichever comes
// first; an item heavier than `maxBytes` goes alone; groups that fit both
// limits are never split; bad weights destroy the stream.

const SEED = process.env.MWSR_FC_SEED === undefined ? 0x6d777372 : Number(process.env.MWSR_FC_SEED);
const RUNS = process.env.MWSR_FC_RUNS === undefined ? 100 : Number(process.env.MWSR_FC_RUNS);

/** An item of a known weight: `sizeOf` reads `w`. */
interface Item {
  id: number;
  w: number;
}
const sizeOf = (item: Item): number => item.w;
const weightOf = (batch: Item[]): number => batch.reduce((sum, item) => sum + item.w, 0);

type Face = 'BatchingWritable' | 'AsyncBatchStream';
const FACES: Face[] = ['BatchingWritable', 'AsyncBatchStream'];

/** A stream of either face with the given limits, and the batches it handed over. */
function make(
  face: Face,
  options: { size: number; maxBytes: number; maxDelay?: number },
): { stream: BatchingWritable<Item> | AsyncBatchStream<Item>; batches: Item[][]; done: Promise<unknown> } {
  const batches: Item[][] = [];
  if (face === 'BatchingWritable') {
    const stream = new BatchingWritable<Item>({
      objectMode: true,
      sizeOf,
      ...options,
      onBatch: (batch) => void batches.push(batch),
    });
    return { stream, batches, done: once(stream, 'finish') };
  }
  const stream = new AsyncBatchStream<Item>({ objectMode: true, sizeOf, ...options });
  stream.on('data', (batch: Item[]) => batches.push(batch));
  return { stream, batches, done: once(stream, 'end') };
}

describe('maxBytes and sizeOf (docs/semantics.md 22)', () => {
  describe('options', () => {
    const makers = {
      BatchingWritable: (options: Record<string, unknown>) =>
        new BatchingWritable({ onBatch: () => {}, size: 10, ...options }),
      AsyncBatchStream: (options: Record<string, unknown>) => new AsyncBatchStream({ size: 10, ...options }),
    };
    for (const [face, construct] of Object.entries(makers)) {
      describe(face, () => {
        const cases: [string, Record<string, unknown>, ErrorConstructor, string][] = [
          ['maxBytes in byte mode', { maxBytes: 10, sizeOf }, TypeError, 'ERR_INVALID_ARG_VALUE'],
          ['sizeOf alone in byte mode', { sizeOf }, TypeError, 'ERR_INVALID_ARG_VALUE'],
          ['maxBytes without sizeOf', { objectMode: true, maxBytes: 10 }, TypeError, 'ERR_MISSING_ARGS'],
          ['sizeOf without maxBytes', { objectMode: true, sizeOf }, TypeError, 'ERR_MISSING_ARGS'],
          [
            'maxBytes as a string',
            { objectMode: true, maxBytes: '10', sizeOf },
            TypeError,
            'ERR_INVALID_ARG_TYPE',
          ],
          [
            'sizeOf not a function',
            { objectMode: true, maxBytes: 10, sizeOf: 4 },
            TypeError,
            'ERR_INVALID_ARG_TYPE',
          ],
          ['maxBytes 0', { objectMode: true, maxBytes: 0, sizeOf }, RangeError, 'ERR_OUT_OF_RANGE'],
          [
            'a fractional maxBytes',
            { objectMode: true, maxBytes: 1.5, sizeOf },
            RangeError,
            'ERR_OUT_OF_RANGE',
          ],
          ['maxBytes NaN', { objectMode: true, maxBytes: NaN, sizeOf }, RangeError, 'ERR_OUT_OF_RANGE'],
          [
            'maxBytes Infinity',
            { objectMode: true, maxBytes: Infinity, sizeOf },
            RangeError,
            'ERR_OUT_OF_RANGE',
          ],
        ];
        for (const [what, options, type, code] of cases) {
          it(`refuses ${what} with ${type.name} ${code}`, () => {
            expect(() => construct(options))
              .to.throw(type)
              .with.property('code', code);
          });
        }
        it('takes maxBytes with sizeOf in object mode', () => {
          expect(() => construct({ objectMode: true, maxBytes: 1, sizeOf })).not.to.throw();
        });
      });
    }
  });

  for (const face of FACES) {
    describe(face, () => {
      it('closes a batch at maxBytes before size, and sends an item heavier than maxBytes alone', async () => {
        const { stream, batches, done } = make(face, { size: 4, maxBytes: 10, maxDelay: Infinity });
        const weights = [3, 3, 3, 3, 20, 1, 1, 1, 1, 1, 10, 0];
        weights.forEach((w, id) => stream.write({ id, w }));
        stream.end();
        await done;
        expect(batches.map((batch) => batch.map((item) => item.w))).to.deep.equal([
          [3, 3, 3], // a fourth 3 would make 12 bytes
          [3],
          [20], // heavier than maxBytes: alone
          [1, 1, 1, 1], // size closes this one
          [1],
          [10, 0], // exactly maxBytes, and a weightless item still fits
        ]);
      });

      it('hands a batch full by bytes over at once, without waiting for maxDelay (docs/semantics.md 5)', async () => {
        const { stream, batches } = make(face, { size: 100, maxBytes: 10, maxDelay: 60_000 });
        stream.write({ id: 0, w: 4 });
        stream.write({ id: 1, w: 6 });
        await new Promise(setImmediate);
        expect(batches.map((batch) => batch.map((item) => item.id))).to.deep.equal([[0, 1]]);
        stream.write({ id: 2, w: 1 }); // not full: waits for maxDelay
        await new Promise(setImmediate);
        expect(batches).to.have.length(1);
        stream.destroy();
      });

      it('calls sizeOf once per item, with the item', async () => {
        const seen: Item[] = [];
        const items = [1, 2, 3].map((id) => ({ id, w: id }));
        const batches: Item[][] = [];
        const options = {
          objectMode: true as const,
          size: 10,
          maxBytes: 100,
          sizeOf: (item: Item) => (seen.push(item), item.w),
        };
        const stream =
          face === 'BatchingWritable'
            ? new BatchingWritable<Item>({ ...options, onBatch: (batch) => void batches.push(batch) })
            : new AsyncBatchStream<Item>(options).on('data', (batch: Item[]) => void batches.push(batch));
        stream.write(items[0]);
        stream.writeV([items[1], items[2]]);
        stream.end();
        await once(stream, face === 'BatchingWritable' ? 'finish' : 'end');
        expect(seen).to.deep.equal(items);
        expect(batches.flat()).to.deep.equal(items);
      });

      it('keeps a writeV group whole when it fits both limits, starting a new batch for it', async () => {
        const { stream, batches, done } = make(face, { size: 5, maxBytes: 10, maxDelay: Infinity });
        stream.write({ id: 0, w: 6 });
        stream.writeV([
          { id: 1, w: 3 },
          { id: 2, w: 3 },
        ]);
        // Too heavy for one batch: placed item by item.
        stream.writeV([
          { id: 3, w: 4 },
          { id: 4, w: 9 },
        ]);
        stream.end();
        await done;
        expect(batches.map((batch) => batch.map((item) => item.id))).to.deep.equal([[0], [1, 2, 3], [4]]);
      });

      it('weighs writes Node queued while corked when uncork() hands them over', async () => {
        const { stream, batches, done } = make(face, { size: 10, maxBytes: 5, maxDelay: Infinity });
        stream.cork();
        for (let id = 0; id < 6; id++) stream.write({ id, w: 2 });
        stream.writeV([
          { id: 6, w: 2 },
          { id: 7, w: 2 },
        ]);
        stream.uncork();
        stream.end();
        await done;
        expect(batches.map((batch) => batch.map((item) => item.id))).to.deep.equal([
          [0, 1],
          [2, 3],
          [4, 5],
          [6, 7],
        ]);
      });

      it('weighs a lone write Node queued while corked, and counts an empty group among queued writes', async () => {
        const { stream, batches, done } = make(face, { size: 10, maxBytes: 5, maxDelay: Infinity });
        stream.cork();
        stream.write({ id: 0, w: 4 });
        stream.uncork(); // one queued write: Node hands it to _write
        const emptyGroup = new Promise<void>((resolve) => {
          stream.cork();
          stream.write({ id: 1, w: 1 });
          stream.writeV([], () => resolve());
          stream.write({ id: 2, w: 1 });
          stream.uncork();
        });
        await emptyGroup;
        stream.end();
        await done;
        expect(batches.map((batch) => batch.map((item) => item.id))).to.deep.equal([[0, 1], [2]]);
      });

      it('a bad weight of a lone write Node queued destroys the stream', async () => {
        const { stream, batches } = make(face, { size: 10, maxBytes: 5 });
        const failed = once(stream, 'error');
        const callback = deferred<Error | null | undefined>();
        stream.cork();
        stream.write({ id: 0, w: 1.5 }, (error) => callback.resolve(error));
        stream.uncork();
        const [error] = (await failed) as [Error];
        expect(error).to.have.property('code', 'ERR_INVALID_RETURN_VALUE');
        expect(await callback.promise).to.equal(error);
        expect(batches).to.deep.equal([]);
      });

      it('holds every batch within both limits, in order, groups unsplit (fast-check)', async () => {
        const item = fc.nat({ max: 12 });
        const action = fc.oneof(
          { weight: 4, arbitrary: item.map((w) => ({ kind: 'write' as const, weights: [w] })) },
          {
            weight: 1,
            arbitrary: fc
              .array(item, { minLength: 2, maxLength: 4 })
              .map((weights) => ({ kind: 'group' as const, weights })),
          },
          { weight: 1, arbitrary: fc.constant({ kind: 'turn' as const, weights: [] as number[] }) },
        );
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 6 }),
            fc.integer({ min: 1, max: 20 }),
            fc.constantFrom(0, Infinity),
            fc.array(action, { maxLength: 30 }),
            async (size, maxBytes, maxDelay, actions) => {
              const { stream, batches, done } = make(face, { size, maxBytes, maxDelay });
              const written: Item[] = [];
              const groups: Item[][] = [];
              let id = 0;
              for (const step of actions) {
                if (step.kind === 'turn') {
                  await new Promise(setImmediate);
                  continue;
                }
                const items = step.weights.map((w) => ({ id: id++, w }));
                written.push(...items);
                if (step.kind === 'group') {
                  groups.push(items);
                  stream.writeV(items);
                } else {
                  stream.write(items[0]);
                }
              }
              stream.end();
              await done;
              expect(batches.flat()).to.deep.equal(written);
              for (const batch of batches) {
                expect(batch.length).to.be.within(1, size);
                if (batch.length > 1) expect(weightOf(batch)).to.be.at.most(maxBytes);
              }
              for (const group of groups) {
                if (group.length > size || weightOf(group) > maxBytes) continue;
                const holder = batches.find((batch) => batch.includes(group[0]));
                expect(holder).to.include.members(group);
              }
              expect(stream.stats.largestBatchBytes).to.equal(Math.max(0, ...batches.map(weightOf)));
            },
          ),
          { seed: SEED, numRuns: RUNS },
        );
      });

      describe('a bad weight destroys the stream; the item is in no batch', () => {
        const bad: [string, unknown][] = [
          ['a negative number', -1],
          ['a fraction', 1.5],
          ['NaN', NaN],
          ['Infinity', Infinity],
          ['a string', '3'],
          ['undefined', undefined],
        ];
        for (const [what, value] of bad) {
          it(`sizeOf returning ${what}: TypeError ERR_INVALID_RETURN_VALUE, to 'error' and the write callback`, async () => {
            const batches: unknown[][] = [];
            const options = {
              objectMode: true as const,
              size: 10,
              maxBytes: 100,
              sizeOf: (item: { bad?: boolean }) => (item.bad ? (value as number) : 1),
            };
            const stream =
              face === 'BatchingWritable'
                ? new BatchingWritable<{ bad?: boolean }>({
                    ...options,
                    onBatch: (batch) => void batches.push(batch),
                  })
                : new AsyncBatchStream<{ bad?: boolean }>(options).on('data', (batch: unknown[]) =>
                    batches.push(batch),
                  );
            const failed = once(stream, 'error');
            const callback = deferred<Error | null | undefined>();
            stream.write({});
            expect(stream.write({ bad: true }, (error) => callback.resolve(error))).to.equal(false);
            expect(stream.destroyed).to.equal(true);
            const [error] = (await failed) as [Error & { code?: string }];
            expect(error).to.be.instanceOf(TypeError);
            expect(error.code).to.equal('ERR_INVALID_RETURN_VALUE');
            expect(error.message).to.contain('"options.sizeOf"');
            expect(await callback.promise).to.equal(error);
            expect(batches).to.deep.equal([]);
          });
        }

        it('sizeOf throwing: the stream is destroyed with the thrown error itself', async () => {
          const thrown = new Error('cannot weigh');
          const batches: Item[][] = [];
          const options = {
            objectMode: true as const,
            size: 10,
            maxBytes: 10,
            sizeOf: (item: Item) => {
              if (item.id === 1) throw thrown;
              return item.w;
            },
          };
          const stream =
            face === 'BatchingWritable'
              ? new BatchingWritable<Item>({ ...options, onBatch: (batch) => void batches.push(batch) })
              : new AsyncBatchStream<Item>(options).on('data', (batch: Item[]) => void batches.push(batch));
          const failed = once(stream, 'error');
          stream.write({ id: 0, w: 1 });
          stream.write({ id: 1, w: 1 });
          expect((await failed)[0]).to.equal(thrown);
          expect(batches).to.deep.equal([]);
        });

        it('a bad weight in a corked group fails the whole of it; nothing reaches the consumer', async () => {
          const { stream, batches } = make(face, { size: 10, maxBytes: 10 });
          const failed = once(stream, 'error');
          const callback = deferred<Error | null | undefined>();
          stream.cork();
          stream.write({ id: 0, w: 1 });
          stream.writeV(
            [
              { id: 1, w: 1 },
              { id: 2, w: -5 },
            ],
            (error) => callback.resolve(error),
          );
          stream.uncork();
          const [error] = (await failed) as [Error & { code?: string }];
          expect(error.code).to.equal('ERR_INVALID_RETURN_VALUE');
          expect(await callback.promise).to.be.instanceOf(Error);
          await new Promise(setImmediate);
          expect(batches).to.deep.equal([]);
        });

        it('a bad weight in an uncorked group: nothing of the group is written', async () => {
          const { stream, batches } = make(face, { size: 10, maxBytes: 10 });
          const failed = once(stream, 'error');
          expect(
            stream.writeV([
              { id: 1, w: 1 },
              { id: 2, w: -5 },
            ]),
          ).to.equal(false);
          expect((await failed)[0]).to.have.property('code', 'ERR_INVALID_RETURN_VALUE');
          await new Promise(setImmediate);
          expect(batches).to.deep.equal([]);
        });
      });
    });
  }

  describe('backpressure and stats', () => {
    it('write() returns false once the bytes waiting reach maxBytes × (size + highWaterMark) / size', async () => {
      const release = deferred();
      const batches: Item[][] = [];
      const stream = new BatchingWritable<Item>({
        objectMode: true,
        size: 100,
        highWaterMark: 16,
        maxBytes: 100,
        sizeOf,
        onBatch: async (batch) => {
          batches.push(batch);
          await release.promise;
        },
      });
      // The byte limit is ceil(100 × 116 / 100) = 116 bytes; the item limit, 116 items.
      expect(stream.write({ id: 0, w: 100 })).to.equal(true);
      await new Promise(setImmediate); // the first batch goes out; onBatch stays busy
      expect(batches).to.have.length(1);
      expect(stream.write({ id: 1, w: 60 })).to.equal(true);
      expect(stream.write({ id: 2, w: 40 })).to.equal(true);
      expect(stream.stats.pendingBytes).to.equal(100);
      expect(stream.write({ id: 3, w: 16 })).to.equal(false); // 116 bytes waiting, 3 items
      expect(stream.writableNeedDrain).to.equal(true);
      expect(stream.stats).to.include({ pendingUnits: 3, pendingBytes: 116, largestBatchBytes: 100 });
      const drained = once(stream, 'drain');
      release.resolve();
      await drained;
      expect(stream.stats.pendingBytes).to.be.below(116);
      await stream.flush();
      expect(batches.map((batch) => batch.map((item) => item.id))).to.deep.equal([[0], [1, 2], [3]]);
      expect(stream.stats).to.include({ pendingBytes: 0, largestBatchBytes: 100 });
      stream.destroy();
    });

    it('the item limit still applies with maxBytes', () => {
      const stream = new AsyncBatchStream<Item>({
        objectMode: true,
        size: 2,
        highWaterMark: 1,
        maxBytes: 1000,
        sizeOf,
      });
      expect(stream.write({ id: 0, w: 1 })).to.equal(true);
      expect(stream.write({ id: 1, w: 1 })).to.equal(true);
      expect(stream.write({ id: 2, w: 1 })).to.equal(false);
      stream.destroy();
    });

    it('stats count bytes as units in byte mode, and 0 bytes in object mode without maxBytes', async () => {
      const bytes = new BatchingWritable({ size: 8, onBatch: () => {} });
      bytes.write('abcde');
      expect(bytes.stats).to.include({ pendingUnits: 5, pendingBytes: 5 });
      await bytes.flush();
      expect(bytes.stats).to.include({ largestBatch: 5, largestBatchBytes: 5, pendingBytes: 0 });
      const items = new BatchingWritable<number>({ objectMode: true, size: 8, onBatch: () => {} });
      items.write(1);
      expect(items.stats).to.include({ pendingUnits: 1, pendingBytes: 0 });
      await items.flush();
      expect(items.stats).to.include({ largestBatch: 1, largestBatchBytes: 0 });
    });
  });
});
