import { expect } from 'chai';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import FakeTimers from '@sinonjs/fake-timers';
import { MODES, type Harness, type HarnessFactory } from './harness';
import { mustCall, nextTurn, sameTurn } from './helpers';

/** Resolves once the stream has emitted 'close'. */
async function closed(harness: Harness): Promise<void> {
  if (!harness.stream.closed) await once(harness.stream, 'close');
}

/**
 * A slow consumer: the harness takes one batch a millisecond. Returns the
 * units delivered so far and a way to stop the pacing.
 */
function paceConsumer(harness: Harness): { delivered(): number; stop(): void } {
  const pace = setInterval(() => {
    harness.release();
    harness.hold();
  }, 1);
  harness.hold();
  return {
    delivered: () => harness.sizes().reduce((a, b) => a + b, 0),
    stop: () => clearInterval(pace),
  };
}

/**
 * The rules of docs/semantics.md that both faces share, written once and
 * run by batching-writable.spec.ts and async-batch-stream.spec.ts. Where the
 * consumer is "busy", read "onBatch pending" for BatchingWritable and
 * "downstream not reading" for AsyncBatchStream.
 */
export function behavesLikeBatcher(factory: HarnessFactory): void {
  // Object mode once more with maxBytes and sizeOf set (docs/semantics.md 22),
  // weighing every item 1 byte against a limit never reached: the weighing
  // paths must keep every rule.
  const variants = [
    ...MODES.map((mode) => ({ mode, weighed: false })),
    { mode: 'objects' as const, weighed: true },
  ];
  for (const { mode, weighed } of variants) {
    describe(`the shared contract (${mode}${weighed ? ', weighed by sizeOf' : ''})`, () => {
      const make = (size: number, extra: { maxDelay?: number; highWaterMark?: number } = {}): Harness =>
        factory({ size, mode, weighed, ...extra });

      describe('semantics 2: order', () => {
        it('delivers the writes, concatenated, in write order', async () => {
          const h = make(7);
          const expected: string[] = [];
          for (let i = 0; i < 200; i++) {
            const text = String.fromCharCode(97 + (i % 26));
            expected.push(text);
            h.stream.write(h.chunk(text));
          }
          h.stream.end();
          await finished(h.stream, { readable: false });
          expect(h.text()).to.equal(expected.join(''));
        });

        it('keeps the order of writes made while the consumer is busy', async () => {
          const h = make(4);
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          for (const c of 'bcdefghij') h.stream.write(h.chunk(c));
          h.release();
          await h.stream.flush();
          expect(h.text()).to.equal('abcdefghij');
        });

        it('keeps writes behind corked ones until every cork() is matched by uncork()', async () => {
          const h = make(8);
          h.stream.write(h.chunk('a'));
          h.stream.cork();
          h.stream.cork();
          h.stream.write(h.chunk('b'));
          h.stream.uncork();
          // Still corked once: 'c' must queue behind 'b', not skip ahead of it.
          h.stream.write(h.chunk('c'));
          expect(h.stream.writableCorked).to.equal(1);
          h.stream.uncork();
          h.stream.uncork(); // one too many: ignored, as by Node
          h.stream.write(h.chunk('d'));
          await h.stream.flush();
          expect(h.text()).to.equal('abcd');
        });

        it('calls write callbacks once per write, in write order, when writes share one callback', async () => {
          const h = make(64);
          const log: string[] = [];
          const shared = (error?: Error | null): void => void log.push(error ? 'error' : 'shared');
          const other = (error?: Error | null): void => void log.push(error ? 'error' : 'other');
          h.stream.write(h.chunk('a'), shared);
          h.stream.write(h.chunk('b'), shared);
          // Through Node's queue: Node calls 'other' on a tick of its own.
          h.stream.cork();
          h.stream.write(h.chunk('c'), other);
          h.stream.uncork();
          h.stream.write(h.chunk('d'), shared);
          h.stream.write(h.chunk('e'), shared);
          await h.stream.flush();
          expect(log).to.deep.equal(['shared', 'shared', 'other', 'shared', 'shared']);
          expect(h.text()).to.equal('abcde');
        });

        it('calls a shared callback for a write made after its earlier calls ran', async () => {
          const h = make(64);
          let calls = 0;
          const shared = (): void => void calls++;
          h.stream.write(h.chunk('a'), shared);
          await new Promise<void>((resolve) => process.nextTick(resolve));
          expect(calls).to.equal(1);
          h.stream.write(h.chunk('b'), shared);
          await h.stream.flush();
          expect(calls).to.equal(2);
        });

        // Strings with an encoding always take Node's path, where cork() holds them.
        if (mode === 'bytes')
          it('keeps plain writes behind those cork() holds in Node, until uncork()', async () => {
            const h = make(8);
            h.stream.cork();
            h.stream.write('x', 'latin1');
            h.stream.write(h.chunk('y'));
            h.stream.uncork();
            h.stream.write(h.chunk('z'));
            await h.stream.flush();
            expect(h.text()).to.equal('xyz');
          });

        // Only bytes have a chunk end() refuses (object mode takes any item; null ends).
        if (mode === 'bytes')
          it('stays writable after an end() that threw for a bad chunk', async () => {
            const h = make(8);
            expect(() => h.stream.end(42)).to.throw(TypeError);
            expect(h.stream.write(h.chunk('a'))).to.equal(true);
            h.stream.end(h.chunk('b'));
            await finished(h.stream, { readable: false });
            expect(h.text()).to.equal('ab');
          });
      });

      describe('semantics 3: bounds', () => {
        it('never hands over an empty batch nor one above size', async () => {
          const h = make(5);
          h.hold();
          for (let i = 0; i < 23; i++) h.stream.write(h.chunk('x'));
          await nextTurn();
          h.release();
          await h.stream.flush();
          for (const units of h.sizes()) expect(units).to.be.within(1, 5);
          expect(h.sizes().reduce((a, b) => a + b, 0)).to.equal(23);
        });

        it('fills batches up to size while the consumer is busy', async () => {
          const h = make(5);
          h.hold();
          h.stream.write(h.chunk('0'));
          await h.nextBatch();
          for (let i = 0; i < 12; i++) h.stream.write(h.chunk(String(i % 10)));
          await nextTurn();
          h.release();
          await h.stream.flush();
          expect(h.sizes()).to.deep.equal([1, 5, 5, 2]);
        });
      });

      describe('semantics 4: one at a time', () => {
        it('never enters the consumer again before the last batch settled', async () => {
          const h = make(3);
          h.hold();
          for (let round = 0; round < 5; round++) {
            for (let i = 0; i < 7; i++) h.stream.write(h.chunk('z'));
            await nextTurn();
            expect(h.batches.length).to.be.at.most(round + 1);
            const next = h.nextBatch();
            h.release();
            h.hold();
            await next;
          }
          h.release();
          await h.stream.flush();
          expect(h.reentries).to.equal(0);
          expect(h.text()).to.equal('z'.repeat(35));
        });
      });

      describe('semantics 5: as soon as possible', () => {
        it('hands a lone write over in the next turn, not after a timer', async () => {
          const h = make(100);
          const timer = new Promise((resolve) => setTimeout(resolve, 0));
          h.stream.write(h.chunk('a'));
          await nextTurn();
          expect(h.text()).to.equal('a');
          await timer;
        });

        it('hands writes made in the same turn over together', async () => {
          const h = make(100);
          h.stream.write(h.chunk('a'));
          await sameTurn();
          h.stream.write(h.chunk('b'));
          await Promise.resolve();
          h.stream.write(h.chunk('c'));
          await nextTurn();
          expect(h.batches).to.have.length(1);
          expect(h.text()).to.equal('abc');
        });

        it('hands data written while busy over as one batch as soon as the consumer is free', async () => {
          const h = make(100);
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          for (const c of 'bcd') h.stream.write(h.chunk(c));
          await nextTurn();
          expect(h.batches).to.have.length(1);
          const next = h.nextBatch();
          h.release();
          expect(await next).to.have.length(3);
          expect(h.text()).to.equal('abcd');
        });

        it('hands everything written while busy over in the turn the consumer frees, writers waiting for drain or not', async () => {
          const h = make(4, { highWaterMark: 2 });
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          // A full batch and a partial one wait; the last write asked to wait for 'drain'.
          let ok = true;
          while (ok) ok = h.stream.write(h.chunk('b'));
          h.release();
          // Ticks and microtasks only: both batches are out before the next turn.
          await nextTurn();
          expect(h.sizes()).to.deep.equal([1, 4, 2]);
        });

        // The immediate is queued before any hand-over the writes arrange for
        // the next turn (with maxDelay 0, the first write's), so it runs first.
        for (const [title, options] of [
          ['hands a full batch over in the same turn, even with maxDelay Infinity', { maxDelay: Infinity }],
          [
            'hands a batch that writes of one turn fill over in that turn, though its first write was due in the next',
            {},
          ],
        ] as const) {
          it(title, async () => {
            const h = make(3, options);
            let seenInNextTurn = -1;
            setImmediate(() => {
              seenInNextTurn = h.batches.length;
            });
            for (const c of 'abc') h.stream.write(h.chunk(c));
            await nextTurn();
            expect(seenInNextTurn).to.equal(1);
            expect(h.text()).to.equal('abc');
          });
        }

        describe('with maxDelay', () => {
          let clock: ReturnType<typeof FakeTimers.install>;
          beforeEach(() => {
            clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
          });
          afterEach(() => clock.uninstall());

          it('holds a non-full batch for maxDelay counted from its first write', async () => {
            const h = make(100, { maxDelay: 50 });
            h.stream.write(h.chunk('a'));
            await nextTurn();
            clock.tick(30);
            h.stream.write(h.chunk('b'));
            await nextTurn();
            clock.tick(19);
            await nextTurn();
            expect(h.batches).to.have.length(0);
            clock.tick(1);
            await nextTurn();
            expect(h.text()).to.equal('ab');
            expect(h.batches).to.have.length(1);
          });

          it('sends a batch that filled up before its maxDelay at once', async () => {
            const h = make(2, { maxDelay: 1000 });
            h.stream.write(h.chunk('a'));
            h.stream.write(h.chunk('b'));
            await nextTurn();
            expect(h.text()).to.equal('ab');
          });

          it('hands an overdue batch over the moment the consumer is free', async () => {
            const h = make(100, { maxDelay: 50 });
            h.hold();
            const first = h.nextBatch();
            h.stream.write(h.chunk('a'));
            clock.tick(50);
            await first;
            h.stream.write(h.chunk('b'));
            clock.tick(50);
            await nextTurn();
            expect(h.batches).to.have.length(1);
            const next = h.nextBatch();
            h.release();
            await next;
            expect(h.text()).to.equal('ab');
          });

          it('with maxDelay Infinity hands only full batches, flush() and end() over', async () => {
            const h = make(4, { maxDelay: Infinity });
            for (const c of 'abcdef') h.stream.write(h.chunk(c));
            await nextTurn();
            clock.tick(2 ** 31);
            await nextTurn();
            expect(h.text()).to.equal('abcd');
            await h.stream.flush();
            expect(h.text()).to.equal('abcdef');
            h.stream.write(h.chunk('g'));
            h.stream.end();
            await finished(h.stream, { readable: false });
            expect(h.text()).to.equal('abcdefg');
          });
        });
      });

      describe('semantics 6: ownership', () => {
        it('never writes into a batch once handed over', async () => {
          const h = make(4);
          h.stream.write(h.chunk('a'));
          const first = await h.nextBatch();
          const snapshot = Buffer.isBuffer(first) ? Buffer.from(first) : [...first];
          for (let i = 0; i < 50; i++) h.stream.write(h.chunk('q'));
          await h.stream.flush();
          expect(first).to.deep.equal(snapshot);
        });

        if (mode === 'bytes') {
          it('lets the writer reuse its chunk once the write callback fired', async () => {
            const h = make(64);
            const chunk = Buffer.from('original');
            await new Promise<void>((resolve) => h.stream.write(chunk, () => resolve()));
            chunk.fill('X');
            await h.stream.flush();
            expect(h.text()).to.equal('original');
          });

          it('makes no batch of zero-byte writes', async () => {
            const h = make(8);
            h.stream.write(Buffer.alloc(0));
            h.stream.write('');
            h.stream.writeV([Buffer.alloc(0), '']);
            await h.stream.flush();
            await nextTurn();
            expect(h.batches).to.have.length(0);
          });
        }
      });

      describe('semantics 7: groups', () => {
        it('keeps a group that fits in one batch, never split', async () => {
          const h = make(6);
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          h.stream.write(h.chunk('b'));
          h.stream.write(h.chunk('c'));
          h.stream.write(h.chunk('d'));
          h.stream.writeV(['1', '2', '3', '4'].map((c) => h.chunk(c)));
          h.release();
          await h.stream.flush();
          expect(h.text()).to.equal('abcd1234');
          const joined = h.batches.map((b) => (Buffer.isBuffer(b) ? b.toString('latin1') : b.join('')));
          expect(joined).to.include('1234');
        });

        it('lets no other write between the chunks of a group', async () => {
          const h = make(1000);
          const writers = Array.from({ length: 20 }, async (_, id) => {
            for (let round = 0; round < 5; round++) {
              await Promise.resolve();
              const tag = String.fromCharCode(65 + id);
              h.stream.writeV([tag, tag.toLowerCase(), String(round)].map((c) => h.chunk(c)));
            }
          });
          await Promise.all(writers);
          await h.stream.flush();
          const text = h.text();
          expect(text).to.have.length(300);
          for (let i = 0; i < text.length; i += 3) {
            expect(text[i + 1]).to.equal(text[i].toLowerCase());
          }
        });

        it('calls back for an empty group, writing nothing', async () => {
          const h = make(4);
          const done = mustCall(() => {});
          expect(h.stream.writeV([], done)).to.equal(true);
          await nextTurn();
          expect(h.batches).to.have.length(0);
        });

        it('places the chunks of a group larger than size like single writes', async () => {
          const h = make(2);
          h.stream.writeV(['a', 'b', 'c', 'd', 'e'].map((c) => h.chunk(c)));
          await h.stream.flush();
          expect(h.text()).to.equal('abcde');
          for (const units of h.sizes()) expect(units).to.be.within(1, 2);
        });

        it('throws TypeError ERR_INVALID_ARG_TYPE for a non-array', () => {
          const h = make(4);
          for (const bad of [undefined, null, 'abc', 5, { length: 1, 0: 'a' }]) {
            expect(() => h.stream.writeV(bad as never))
              .to.throw(TypeError)
              .with.property('code', 'ERR_INVALID_ARG_TYPE');
          }
        });

        it('rejects a whole group with a null chunk, writing none of it', async () => {
          const h = make(4);
          expect(() => h.stream.writeV([h.chunk('a'), null]))
            .to.throw(TypeError)
            .with.property('code', 'ERR_STREAM_NULL_VALUES');
          await h.stream.flush();
          expect(h.batches).to.have.length(0);
        });
      });

      describe('semantics 8: flush()', () => {
        it('resolves once everything written before the call went through', async () => {
          const h = make(3);
          h.hold();
          for (const c of 'abcdefgh') h.stream.write(h.chunk(c));
          let resolved = false;
          const flushed = h.stream.flush().then(() => {
            resolved = true;
          });
          await nextTurn();
          expect(resolved).to.equal(false);
          h.release();
          await flushed;
          expect(h.text()).to.equal('abcdefgh');
        });

        it('resolves without a batch when nothing is pending', async () => {
          const h = make(3);
          await h.stream.flush();
          h.stream.write(h.chunk('a'));
          await h.stream.flush();
          await h.stream.flush();
          expect(h.batches).to.have.length(1);
        });

        it('ignores maxDelay', async () => {
          const h = make(100, { maxDelay: 2 ** 31 - 1 });
          h.stream.write(h.chunk('a'));
          await h.stream.flush();
          expect(h.text()).to.equal('a');
        });

        it('waits for writes still queued behind backpressure', async () => {
          const h = make(2, { highWaterMark: 2 });
          h.hold();
          for (const c of 'abcdefghij') h.stream.write(h.chunk(c));
          const flushed = h.stream.flush();
          h.release();
          await flushed;
          expect(h.text()).to.equal('abcdefghij');
        });

        it('lets concurrent flushes each resolve after their own data', async () => {
          const h = make(2);
          h.hold();
          h.stream.write(h.chunk('a'));
          const first = h.stream.flush().then(() => h.text());
          h.stream.write(h.chunk('b'));
          h.stream.write(h.chunk('c'));
          const second = h.stream.flush().then(() => h.text());
          h.release();
          expect(await first).to.have.string('a');
          expect(await second).to.equal('abc');
        });
      });

      describe('semantics 9: end()', () => {
        it('hands everything over before finishing', async () => {
          const h = make(4);
          for (const c of 'abcdefg') h.stream.write(h.chunk(c));
          h.stream.end(h.chunk('h'));
          await finished(h.stream, { readable: false });
          expect(h.text()).to.equal('abcdefgh');
        });

        it("emits 'finish' only after the last batch settled", async () => {
          const h = make(4);
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          h.stream.write(h.chunk('b'));
          let finishedAt = -1;
          h.stream.on('finish', () => {
            finishedAt = h.batches.length;
          });
          h.stream.end();
          await nextTurn();
          await nextTurn();
          expect(finishedAt).to.equal(-1);
          h.release();
          await once(h.stream, 'finish');
          expect(finishedAt).to.equal(2);
          expect(h.text()).to.equal('ab');
        });
      });

      describe('semantics 10: failure', () => {
        it('rejects a waiting flush() with the error that destroyed the stream', async () => {
          const h = make(4);
          h.stream.on('error', () => {});
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          h.stream.write(h.chunk('b'));
          const flushed = h.stream.flush();
          const boom = new Error('boom');
          h.stream.destroy(boom);
          const error = await flushed.then(
            () => null,
            (e: unknown) => e,
          );
          expect(error).to.equal(boom);
        });

        it('rejects a flush() waiting when destroyed without an error with ERR_STREAM_DESTROYED', async () => {
          const h = make(4);
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          h.stream.write(h.chunk('b'));
          const flushed = h.stream.flush();
          h.stream.destroy();
          const error = await flushed.then(
            () => null,
            (e: unknown) => e,
          );
          expect(error).to.have.property('code', 'ERR_STREAM_DESTROYED');
        });

        it('fails a write whose callback waits for the drain with the error', async () => {
          const h = make(2, { highWaterMark: 2 });
          h.stream.on('error', () => {});
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          // Write until the stream asks to wait: that write's callback waits too.
          let waiting: Promise<unknown> | undefined;
          let ok = true;
          for (let i = 0; ok; i++) {
            expect(i).to.be.below(100);
            waiting = new Promise<unknown>((resolve) => (ok = h.stream.write(h.chunk('b'), resolve)));
          }
          const boom = new Error('boom');
          h.stream.destroy(boom);
          expect(await waiting).to.equal(boom);
        });

        it('fails flush() after destroy', async () => {
          const h = make(4);
          h.stream.destroy();
          await closed(h);
          const error = await h.stream.flush().then(
            () => null,
            (e: unknown) => e,
          );
          expect(error).to.have.property('code', 'ERR_STREAM_DESTROYED');
        });

        it('fails write() and writeV() after end() with ERR_STREAM_WRITE_AFTER_END', async () => {
          const h = make(4);
          const errors: unknown[] = [];
          h.stream.on('error', (e) => errors.push(e));
          h.stream.end();
          const viaWrite = new Promise<unknown>((resolve) => h.stream.write(h.chunk('a'), resolve));
          const viaWriteV = new Promise<unknown>((resolve) =>
            h.stream.writeV([h.chunk('a'), h.chunk('b')], resolve),
          );
          const viaEmpty = new Promise<unknown>((resolve) => h.stream.writeV([], resolve));
          for (const error of await Promise.all([viaWrite, viaWriteV, viaEmpty])) {
            expect(error).to.have.property('code', 'ERR_STREAM_WRITE_AFTER_END');
          }
          expect(errors.length).to.be.greaterThan(0);
        });

        it('fails a write after end() even with room left in the open batch', async () => {
          const h = make(8);
          const errors: unknown[] = [];
          h.stream.on('error', (e) => errors.push(e));
          h.stream.write(h.chunk('a'));
          h.stream.end();
          expect(h.stream.write(h.chunk('b'))).to.equal(false);
          await closed(h);
          expect(errors).to.have.length(1);
          expect(errors[0]).to.have.property('code', 'ERR_STREAM_WRITE_AFTER_END');
          expect(h.text()).not.to.include('b');
        });

        it('fails writeV() after destroy as write() fails', async () => {
          const h = make(4);
          h.stream.destroy();
          const error = await new Promise<unknown>((resolve) => h.stream.writeV([h.chunk('a')], resolve));
          expect(error).to.have.property('code', 'ERR_STREAM_DESTROYED');
        });

        it('leaves no timer behind when destroyed with a maxDelay pending', async () => {
          const h = make(100, { maxDelay: 2 ** 31 - 1 });
          h.stream.write(h.chunk('a'));
          await nextTurn();
          const before = (
            process as unknown as { getActiveResourcesInfo(): string[] }
          ).getActiveResourcesInfo();
          h.stream.destroy();
          await closed(h);
          const after = (
            process as unknown as { getActiveResourcesInfo(): string[] }
          ).getActiveResourcesInfo();
          const timeouts = (list: string[]) => list.filter((r) => r === 'Timeout').length;
          expect(timeouts(after)).to.equal(timeouts(before) - 1);
        });
      });

      describe('semantics 12: backpressure', () => {
        // While the consumer is busy, write() returns false once the stream
        // holds size + highWaterMark units not handed over.
        const fillUntilFalse = (h: Harness, text: string, limit = 100): boolean[] => {
          const results: boolean[] = [];
          let ok = true;
          while (ok) {
            expect(results.length).to.be.below(limit);
            ok = h.stream.write(h.chunk(text));
            results.push(ok);
          }
          return results;
        };

        it('returns false once size + highWaterMark units wait, and drains once a batch is handed over', async () => {
          const h = make(4, { highWaterMark: 2 });
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          expect(h.stream.writableNeedDrain).to.equal(false);
          expect(fillUntilFalse(h, 'b')).to.have.length(6);
          expect(h.stream.writableNeedDrain).to.equal(true);
          const drained = once(h.stream, 'drain');
          h.release();
          await drained;
          expect(h.stream.writableNeedDrain).to.equal(false);
          await h.stream.flush();
          expect(h.text()).to.equal('a' + 'b'.repeat(6));
          expect(h.sizes()).to.deep.equal([1, 4, 2]);
        });

        // Strings with an encoding always take Node's own write(), so Node
        // holds one and queues the next: a plain write must queue behind them.
        if (mode === 'bytes')
          it('keeps writes behind those Node holds at the limit, whichever path they take', async () => {
            const h = make(4, { highWaterMark: 2 });
            h.hold();
            h.stream.write(h.chunk('a'));
            await h.nextBatch();
            fillUntilFalse(h, 'b');
            expect(h.stream.write('c', 'latin1')).to.equal(false);
            expect(h.stream.write('d', 'latin1')).to.equal(false);
            expect(h.stream.write(h.chunk('e'))).to.equal(false);
            h.release();
            await h.stream.flush();
            expect(h.text()).to.equal('a' + 'b'.repeat(6) + 'cde');
          });

        it('emits one drain per wait, with writes through the fast path and through cork()', async () => {
          const h = make(4, { highWaterMark: 2 });
          let drains = 0;
          h.stream.on('drain', () => drains++);
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          fillUntilFalse(h, 'b');
          // Corked writes wait in Node's queue and count toward the limit too.
          h.stream.cork();
          expect(h.stream.write(h.chunk('c'))).to.equal(false);
          h.stream.uncork();
          h.release();
          await h.stream.flush();
          await nextTurn();
          expect(drains).to.equal(1);
          expect(h.text()).to.equal('a' + 'b'.repeat(6) + 'c');
        });

        it('holds the callback of a write that returned false until the drain', async () => {
          const h = make(4, { highWaterMark: 2 });
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          const events: string[] = [];
          const results: boolean[] = [];
          while (results.length === 0 || results[results.length - 1]) {
            const index = results.length;
            results.push(
              h.stream.write(
                h.chunk('b'),
                mustCall(() => events.push(`cb ${index}`)),
              ),
            );
          }
          h.stream.on('drain', () => events.push('drain'));
          await nextTurn();
          await nextTurn();
          expect(results).to.deep.equal([true, true, true, true, true, false]);
          expect(events).to.deep.equal(['cb 0', 'cb 1', 'cb 2', 'cb 3', 'cb 4']);
          h.release();
          await once(h.stream, 'drain');
          expect(events.slice(5)).to.deep.equal(['cb 5', 'drain']);
        });

        it('holds back writers who wait for their callbacks instead of drain', async () => {
          const size = 8;
          const highWaterMark = 4;
          const h = make(size, { highWaterMark });
          let written = 0;
          let peak = 0;
          const consumer = paceConsumer(h);
          await Promise.all(
            Array.from({ length: 4 }, async () => {
              for (let i = 0; i < 50; i++) {
                await new Promise<void>((resolve, reject) => {
                  h.stream.write(h.chunk('m'), (error) => (error ? reject(error) : resolve()));
                  written++;
                  peak = Math.max(peak, written - consumer.delivered());
                });
              }
            }),
          );
          consumer.stop();
          h.release();
          await h.stream.flush();
          expect(h.text()).to.have.length(200);
          // The batch out + size + highWaterMark, plus one write per writer.
          expect(peak).to.be.at.most(2 * size + highWaterMark + 4);
        });

        // Uncorked, the group goes straight in; corked, it waits in Node's
        // queue, which counts toward the limit as well.
        for (const corked of [false, true])
          it(`returns false from writeV() once its whole group reaches the limit${corked ? ', inside cork()' : ''}`, async () => {
            const h = make(4, { highWaterMark: 2 });
            h.hold();
            h.stream.write(h.chunk('a'));
            await h.nextBatch();
            expect(h.stream.write(h.chunk('b'))).to.equal(true);
            // 1 + 4 below the limit of 6: true, as four plain writes would be.
            expect(h.stream.writeV([h.chunk('c'), h.chunk('d'), h.chunk('e'), h.chunk('f')])).to.equal(true);
            if (corked) h.stream.cork();
            expect(h.stream.writeV([h.chunk('g'), h.chunk('h')])).to.equal(false);
            if (corked) h.stream.uncork();
            expect(h.stream.writableNeedDrain).to.equal(true);
            const drained = once(h.stream, 'drain');
            h.release();
            await drained;
            await h.stream.flush();
            // Each group whole: c-f did not fit behind 'b', g-h not behind c-f.
            expect(h.sizes()).to.deep.equal([1, 1, 4, 2]);
          });

        it('makes a readable piped into it wait while it needs a drain', async () => {
          const h = make(4, { highWaterMark: 2 });
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          fillUntilFalse(h, 'b');
          const source = Readable.from(
            ['x', 'y', 'z'].map((text) => h.chunk(text)),
            {
              objectMode: true,
            },
          );
          source.pipe(h.stream, { end: false });
          await nextTurn();
          await nextTurn();
          // pipe() saw writableNeedDrain and waits for 'drain' before writing.
          expect(h.text()).to.equal('a');
          expect(h.stream.writableNeedDrain).to.equal(true);
          h.release();
          await once(source, 'end');
          await h.stream.flush();
          expect(h.text()).to.equal('a' + 'b'.repeat(6) + 'xyz');
        });
      });

      describe('semantics 12: memory', () => {
        it('holds at most a small multiple of size + highWaterMark with many producers respecting backpressure', async () => {
          const size = 64;
          const highWaterMark = 32;
          const h = make(size, { highWaterMark });
          const producers = 200;
          h.stream.setMaxListeners(producers + 10); // every producer awaits 'drain'

          let written = 0;
          let peak = 0;
          const consumer = paceConsumer(h);
          await Promise.all(
            Array.from({ length: producers }, async () => {
              for (let i = 0; i < 20; i++) {
                const ok = h.stream.write(h.chunk('m'));
                written++;
                peak = Math.max(peak, written - consumer.delivered());
                if (!ok) await once(h.stream, 'drain');
              }
            }),
          );
          consumer.stop();
          h.release();
          await h.stream.flush();
          expect(h.text()).to.have.length(producers * 20);
          // The batch out + size + highWaterMark waiting + one write per producer.
          expect(peak).to.be.at.most(3 * size + highWaterMark + producers);
        });
      });
    });
  }
}
