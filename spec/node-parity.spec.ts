import { expect } from 'chai';
import { once } from 'node:events';
import { Writable, type WritableOptions } from 'node:stream';
import { types } from 'node:util';
import vm from 'node:vm';
import { AsyncBatchStream, BatchingWritable } from '../lib/index';
import type { BatchStats } from '../lib/index';
import type { Batcher as ContractBatcher } from './support/harness';
import { deferred, nextTurn } from './support/helpers';

// Regressions where the write fast path parted from a plain stream.Writable
// (docs/semantics.md 13: what the README does not change behaves as Node's
// Writable does). Each case runs against both faces and, where Node defines
// the outcome, against a plain Writable as the oracle.

/** The surface these specs use: what both faces share. */
type Batcher = ContractBatcher & {
  readonly stats: BatchStats;
  ready(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

interface Made {
  readonly stream: Batcher;
  /** Everything delivered so far: bytes concatenated, or items in order. */
  delivered(): Buffer | unknown[];
}

interface MakeOptions extends Omit<WritableOptions, 'write' | 'writev' | 'final' | 'destroy'> {
  size?: number;
  /** The consumer never settles (BatchingWritable) or nobody reads (AsyncBatchStream). */
  stuck?: boolean;
  /** What onBatch does (BatchingWritable) with each batch, instead of settling at once. */
  onBatch?: (batch: unknown) => unknown;
}

type Face = (options: MakeOptions) => Made;

const faces: Record<string, Face> = {
  BatchingWritable(options) {
    const batches: (Buffer | unknown[])[] = [];
    const { size = 64, stuck = false, onBatch, objectMode = false, ...rest } = options;
    const consumer = (batch: Buffer | unknown[]): void | PromiseLike<unknown> => {
      batches.push(batch);
      if (onBatch) return onBatch(batch) as void | PromiseLike<unknown>;
      return stuck ? new Promise(() => {}) : undefined;
    };
    const stream = objectMode
      ? new BatchingWritable<unknown>({ ...rest, size, objectMode: true, onBatch: consumer })
      : new BatchingWritable({ ...rest, size, onBatch: consumer });
    return { stream, delivered: () => join(batches, objectMode) };
  },
  AsyncBatchStream(options) {
    const batches: (Buffer | unknown[])[] = [];
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- onBatch is BatchingWritable's alone
    const { size = 64, stuck = false, objectMode = false, onBatch, ...rest } = options;
    const stream = objectMode
      ? new AsyncBatchStream<unknown>({ ...rest, size, objectMode: true })
      : new AsyncBatchStream({ ...rest, size });
    if (!stuck) stream.on('data', (batch: Buffer | unknown[]) => batches.push(batch));
    return { stream, delivered: () => join(batches, objectMode) };
  },
};

function join(batches: (Buffer | unknown[])[], objectMode: boolean): Buffer | unknown[] {
  return objectMode ? (batches as unknown[][]).flat() : Buffer.concat(batches as Buffer[]);
}

/** A plain Writable that records what reaches it, for the same program. */
function oracle(options: MakeOptions = {}): Made {
  const chunks: unknown[] = [];
  const { objectMode = false, ...rest } = options;
  const stream = new Writable({
    ...rest,
    objectMode,
    writev(entries, callback) {
      for (const { chunk } of entries) chunks.push(chunk);
      callback();
    },
  }) as Batcher;
  return {
    stream,
    delivered: () => (objectMode ? chunks : Buffer.concat(chunks as Buffer[])),
  };
}

/** Resolves once the stream closed, or finished when it emits no 'close'. */
async function settled(stream: Writable): Promise<void> {
  if (!stream.closed && !stream.writableFinished) {
    await Promise.race([once(stream, 'close'), once(stream, 'finish')]).catch(() => {});
  }
  await nextTurn();
}

for (const [name, make] of Object.entries(faces)) {
  describe(`${name} as a plain Writable`, () => {
    describe('strings in every encoding hold exactly the bytes Buffer.from makes', () => {
      // hex and base64 decode to fewer bytes than Buffer.byteLength estimates.
      const cases: [BufferEncoding, string][] = [
        ['base64', 'QUJD\n\n\n\n'],
        ['base64', 'QU JD=='],
        ['base64url', 'QUJD_-8'],
        ['hex', 'zz'],
        ['hex', 'abc'],
        ['hex', '41 42'],
        ['utf8', 'é€😀\ud800'],
        ['ucs2', 'ab€'],
        ['latin1', 'ÿé'],
        ['ascii', 'a€'],
      ];
      for (const [encoding, text] of cases) {
        const expected = Buffer.from(text, encoding);
        it(`defaultEncoding ${encoding}: ${JSON.stringify(text)}`, async () => {
          const made = make({ defaultEncoding: encoding });
          made.stream.write(text);
          made.stream.write(Buffer.from('|'));
          made.stream.write(text);
          made.stream.end();
          await settled(made.stream);
          expect(made.delivered()).to.deep.equal(Buffer.concat([expected, Buffer.from('|'), expected]));
        });
        it(`setDefaultEncoding ${encoding} and writeV: ${JSON.stringify(text)}`, async () => {
          const made = make({});
          made.stream.setDefaultEncoding(encoding);
          made.stream.writeV([text, Buffer.from('|'), text]);
          made.stream.write(text, encoding);
          made.stream.end();
          await settled(made.stream);
          expect(made.delivered()).to.deep.equal(
            Buffer.concat([expected, Buffer.from('|'), expected, expected]),
          );
        });
      }

      it('makes no batch of a string that decodes to nothing', async () => {
        const batches: unknown[] = [];
        const made = make({ defaultEncoding: 'hex', onBatch: (batch) => void batches.push(batch) });
        made.stream.write('zz');
        made.stream.end();
        await settled(made.stream);
        expect(made.delivered()).to.deep.equal(Buffer.alloc(0));
        expect(made.stream.stats.batches).to.equal(0);
      });
    });

    describe('write callbacks come in write order, as a plain Writable calls them', () => {
      /** Runs `program` on our stream and on a plain Writable; returns both traces. */
      async function traces(
        options: MakeOptions,
        program: (stream: Batcher, X: () => void, Y: () => void) => void,
      ): Promise<[string[], string[]]> {
        const run = async (made: Made): Promise<string[]> => {
          const trace: string[] = [];
          program(
            made.stream,
            () => trace.push('X'),
            () => trace.push('Y'),
          );
          await nextTurn();
          return trace;
        };
        return [await run(make(options)), await run(oracle(options))];
      }

      it('does not merge a shared callback across another one (string, Buffer, string)', async () => {
        const [ours, node] = await traces({}, (s, X, Y) => {
          s.write('a', 'utf8', X);
          s.write(Buffer.from('b'), Y);
          s.write('c', 'utf8', X);
        });
        expect(node).to.deep.equal(['X', 'Y', 'X']);
        expect(ours).to.deep.equal(node);
      });

      it('returns what a plain Writable returns far below the limit, on either path', async () => {
        // Only the backlog (2 + 8300 bytes) counts, far below size + highWaterMark.
        const program = (s: Batcher, X: () => void): boolean[] => [
          s.write('a', 'utf8', X),
          s.write(Buffer.from('b'), () => {}),
          s.write('c'.repeat(8300), 'utf8', X),
          s.write(Buffer.from('d')),
        ];
        const ours = make({});
        const results = program(ours.stream, () => {});
        expect(results).to.deep.equal(program(oracle().stream, () => {}));
        expect(results).to.deep.equal([true, true, true, true]);
        ours.stream.end();
        await settled(ours.stream);
        expect(ours.delivered()).to.have.length(8303);
      });

      it('keeps order around a corked write in object mode', async () => {
        const [ours, node] = await traces({ objectMode: true }, (s, X, Y) => {
          s.cork();
          s.write(1, X);
          s.uncork();
          s.write(2, Y);
          s.cork();
          s.write(3, X);
          s.uncork();
        });
        expect(node).to.deep.equal(['X', 'Y', 'X']);
        expect(ours).to.deep.equal(node);
      });

      it('calls an empty group back in its place among writes sharing a callback', async () => {
        const made = make({});
        const trace: string[] = [];
        const X = (): number => trace.push('X');
        made.stream.write('a', 'utf8', X);
        made.stream.writeV([], () => trace.push('Y'));
        made.stream.write('c', 'utf8', X);
        made.stream.write(Buffer.from('d'), X);
        await nextTurn();
        expect(trace).to.deep.equal(['X', 'Y', 'X', 'X']);
      });

      it('calls an empty group written under cork() after the corked writes before it', async () => {
        for (const objectMode of [false, true]) {
          const made = make({ objectMode });
          const trace: string[] = [];
          made.stream.cork();
          made.stream.write(objectMode ? 1 : 'a', () => trace.push('a'));
          made.stream.writeV([], () => trace.push('group'));
          made.stream.uncork();
          made.stream.write(objectMode ? 2 : 'b', () => trace.push('b'));
          await made.stream.flush();
          await nextTurn();
          expect(trace, `objectMode ${objectMode}`).to.deep.equal(['a', 'group', 'b']);
        }
      });
    });

    describe('callbacks held for backpressure', () => {
      it('are called with null, as Node calls a write callback', async () => {
        const made = make({ size: 1, highWaterMark: 1 });
        const args = await new Promise<unknown[]>((resolve) => {
          expect(made.stream.write(Buffer.from('ab'), (...rest: unknown[]) => resolve(rest))).to.equal(false);
        });
        expect(args).to.deep.equal([null]);
      });

      it('leave errored null when the stream is destroyed without an error', async () => {
        for (const objectMode of [false, true]) {
          const made = make({ size: 1, highWaterMark: 0, objectMode, stuck: true });
          const calls: unknown[] = [];
          made.stream.write(objectMode ? 'a' : Buffer.from('a'), (error) => calls.push(error));
          made.stream.destroy();
          await settled(made.stream);
          expect(made.stream.errored, `objectMode ${objectMode}`).to.equal(null);
          expect(calls).to.deep.equal([null]);
        }
      });

      it('carry the destroy error, before the callbacks of writes corked after them', async () => {
        const made = make({ size: 1, highWaterMark: 1, stuck: true });
        const trace: string[] = [];
        const boom = new Error('boom');
        made.stream.on('error', () => {});
        expect(made.stream.write('ab', (error) => trace.push(`held ${error === boom}`))).to.equal(false);
        made.stream.cork();
        made.stream.write('c', (error) => trace.push(`corked ${error === boom}`));
        made.stream.destroy(boom);
        await settled(made.stream);
        expect(trace).to.deep.equal(['held true', 'corked true']);
      });

      it('come before the callback of an empty group written after them', async () => {
        const made = make({ size: 1, highWaterMark: 0, stuck: true });
        const trace: string[] = [];
        made.stream.write('0', () => trace.push('held'));
        made.stream.writeV([], () => trace.push('empty'));
        made.stream.destroy();
        await settled(made.stream);
        expect(trace).to.deep.equal(['held', 'empty']);
      });
    });

    describe('the write fast path opens again once Node holds nothing', () => {
      // Speed, not behaviour: a write Node's path takes comes out the same,
      // so only the hooks Node calls tell the paths apart (the benchmarks
      // measure the fast path; timing has no place in a spec).

      /** Counts Node's calls of `_write`/`_writev` from now on: writes that took Node's path. */
      function nodePathWrites(stream: Batcher): () => number {
        let calls = 0;
        const hooks = stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
        for (const name of ['_write', '_writev'] as const) {
          const hook = hooks[name];
          hooks[name] = function (this: unknown, ...args: unknown[]): void {
            calls++;
            hook.apply(this, args);
          };
        }
        return () => calls;
      }

      it('after cork() and uncork(), nested', async () => {
        const made = make({});
        const s = made.stream;
        const nodePath = nodePathWrites(s);
        s.cork();
        s.cork();
        s.write(Buffer.from('a'));
        s.uncork();
        s.uncork();
        expect(nodePath()).to.equal(1); // Node handed over the corked write
        s.write(Buffer.from('b'));
        s.write('c');
        await nextTurn();
        expect(nodePath()).to.equal(1);
        s.end();
        await settled(s);
        expect(made.delivered().toString()).to.equal('abc');
      });

      it("for writes with a callback, once the callback tick of a write Node's path took has run", async () => {
        const made = make({});
        const s = made.stream;
        s.write('a', 'utf8', () => {}); // Node's path
        await nextTurn();
        const nodePath = nodePathWrites(s);
        s.write(Buffer.from('b'), () => {});
        s.write('c', () => {});
        await nextTurn();
        expect(nodePath()).to.equal(0);
        s.end();
        await settled(s);
        expect(made.delivered().toString()).to.equal('abc');
      });
    });

    describe('a write after end() fails as a plain Writable fails it', () => {
      async function lateWrite(made: Made, how: 'callback' | 'cork'): Promise<string[]> {
        const trace: string[] = [];
        const s = made.stream;
        s.on('error', (error: NodeJS.ErrnoException) => trace.push(`error ${error.code}`));
        const late = (): void => {
          s.write('late', (error) => trace.push(`late ${(error as NodeJS.ErrnoException)?.code ?? 'ok'}`));
        };
        if (how === 'cork') {
          s.cork();
          s.write('first', late);
        } else {
          s.write('first', 'utf8', late);
        }
        s.end();
        await settled(s);
        return trace;
      }

      for (const how of ['callback', 'cork'] as const) {
        it(`fails a write made from a write callback after end() (${how})`, async () => {
          const options = { size: 1, highWaterMark: 1 };
          const ours = make(options);
          const node = oracle(options);
          const [ourTrace, nodeTrace] = [await lateWrite(ours, how), await lateWrite(node, how)];
          expect(nodeTrace).to.deep.equal([
            'late ERR_STREAM_WRITE_AFTER_END',
            'error ERR_STREAM_WRITE_AFTER_END',
          ]);
          expect(ourTrace).to.deep.equal(nodeTrace);
          expect(ours.delivered().toString()).to.equal('first');
        });
      }
    });

    describe('writes taken at once stay taken', () => {
      it('a write after a Node-path write succeeds though destroy() follows in the same tick', async () => {
        const made = make({ size: 1 });
        const trace: unknown[] = [];
        made.stream.writeV([new Uint16Array(1)]); // not a Uint8Array: Node's own write path
        made.stream.write('a', () => trace.push('a'));
        made.stream.write(new Uint16Array(1));
        made.stream.write('b', (error) => trace.push(error ?? 'b'));
        made.stream.destroy();
        await settled(made.stream);
        expect(trace).to.deep.equal(['a', 'b']);
      });

      it('a write callback in the form write(chunk, undefined, callback) keeps its place', async () => {
        const made = make({});
        const trace: string[] = [];
        const X = (): number => trace.push('X');
        made.stream.write('a', 'utf8', X);
        made.stream.write(Buffer.from('b'), undefined as unknown as BufferEncoding, () => trace.push('Y'));
        made.stream.write('c', 'utf8', X);
        await nextTurn();
        expect(trace).to.deep.equal(['X', 'Y', 'X']);
      });
    });

    describe('end() callbacks', () => {
      it('get the stream error, as Node gives it, when destroyed after an error', async () => {
        const made = make({ size: 1, autoDestroy: false, stuck: true });
        const node = oracle({ autoDestroy: false });
        const run = async (s: Batcher): Promise<unknown> => {
          s.on('error', () => {});
          const ended = new Promise((resolve) => s.end('0', resolve as () => void));
          s.write('late'); // after end(): errored, not destroyed
          await nextTurn();
          s.destroy();
          return ((await ended) as NodeJS.ErrnoException | null)?.code;
        };
        const nodeCode = await run(node.stream);
        expect(nodeCode).to.equal('ERR_STREAM_WRITE_AFTER_END');
        expect(await run(made.stream)).to.equal(nodeCode);
      });

      it('get the error of a write made after end() from an earlier write callback', async () => {
        const run = async (made: Made): Promise<unknown> => {
          const s = made.stream;
          s.on('error', () => {});
          s.write({}, () => s.write({}));
          return new Promise((resolve) => s.end(resolve));
        };
        const node = ((await run(oracle({ objectMode: true }))) as NodeJS.ErrnoException).code;
        expect(node).to.equal('ERR_STREAM_WRITE_AFTER_END');
        const ours = (await run(make({ size: 1, objectMode: true }))) as NodeJS.ErrnoException | null;
        expect(ours?.code).to.equal(node);
      });

      it('after destroy() are always called, with ERR_STREAM_DESTROYED (Node may never call them)', async () => {
        const programs: Record<string, (s: Batcher) => void> = {
          'nothing written': () => {},
          'a write without a callback': (s) => void s.write('a'),
          'a write held for the drain': (s) => void s.write('ab', () => {}),
          'a write with a callback': (s) => void s.write('a', () => {}),
        };
        for (const [what, before] of Object.entries(programs)) {
          for (const objectMode of [false, true]) {
            const made = make({ size: 1, highWaterMark: 1, objectMode });
            before(made.stream);
            made.stream.destroy();
            const error = await new Promise((resolve) => made.stream.end(resolve as () => void));
            expect(error, `${what}, objectMode ${objectMode}`).to.have.property(
              'code',
              'ERR_STREAM_DESTROYED',
            );
          }
        }
      });

      it('after destroy() are not called when end() throws, as on a plain Writable', async () => {
        const run = async (s: Batcher): Promise<{ code: unknown; calls: unknown[] }> => {
          const calls: unknown[] = [];
          s.destroy();
          let code: unknown;
          try {
            s.end('', 'buffer' as BufferEncoding, (error?: unknown) => void calls.push(error));
          } catch (error) {
            code = (error as NodeJS.ErrnoException).code;
          }
          await settled(s);
          await nextTurn();
          return { code, calls };
        };
        const node = await run(oracle().stream);
        expect(node.code).to.equal('ERR_UNKNOWN_ENCODING');
        expect(await run(make({ size: 1 }).stream)).to.deep.equal(node);
      });

      it('are not called while an errored stream stays alive (autoDestroy: false)', async () => {
        const made = make({ size: 1, highWaterMark: 0, autoDestroy: false });
        const calls: unknown[] = [];
        made.stream.on('error', () => {});
        made.stream.end('', ((error: unknown) => void calls.push(error)) as () => void);
        made.stream.write('QUJD');
        await settled(made.stream);
        await nextTurn();
        expect(calls).to.deep.equal([]);
      });
    });

    describe('with autoDestroy: false, a write after end() errors the stream without destroying it', () => {
      it('settles a flush() called after the error once what was written went through', async () => {
        const made = make({ size: 1, highWaterMark: 1, autoDestroy: false });
        const s = made.stream;
        s.on('error', () => {});
        s.write('ab');
        s.end('c');
        s.write('late');
        expect(s.errored).to.have.property('code', 'ERR_STREAM_WRITE_AFTER_END');
        await s.flush();
        expect(s.destroyed).to.equal(false);
        expect(s.stats.pendingUnits).to.equal(0);
      });

      it('delivers what was written before, settles waiters, and never finishes', async () => {
        for (const [consumer, gate] of [
          ['a consumer that settles at once', null],
          ['a consumer busy at the time', deferred()],
        ] as const) {
          const made = make({
            size: 1,
            highWaterMark: 1,
            autoDestroy: false,
            onBatch: gate === null ? undefined : () => gate.promise,
          });
          const s = made.stream;
          const events: string[] = [];
          s.on('error', (error: NodeJS.ErrnoException) => events.push(`error ${error.code}`));
          s.on('finish', () => events.push('finish'));
          const held = new Promise((resolve) => expect(s.write('ab', resolve)).to.equal(false));
          const flushed = s.flush();
          const ready = s.ready().catch((error: unknown) => error);
          s.end('c');
          const disposed = s[Symbol.asyncDispose]().catch((error: unknown) => error);
          expect(s.write('late')).to.equal(false);
          expect(s.destroyed, consumer).to.equal(false);
          expect(await ready).to.have.property('code', 'ERR_STREAM_WRITE_AFTER_END');
          expect(await disposed).to.equal(s.errored);
          const again = await s[Symbol.asyncDispose]().catch((error: unknown) => error);
          expect(again).to.equal(s.errored);
          gate?.resolve();
          expect(await held).to.equal(null);
          await flushed;
          await nextTurn();
          // A Transform's readable side drops what is pushed once errored, as
          // Node's own Transform does; onBatch still gets it.
          if (name === 'BatchingWritable') expect(made.delivered().toString(), consumer).to.equal('abc');
          expect(events, consumer).to.deep.equal(['error ERR_STREAM_WRITE_AFTER_END']);
        }
      });
    });

    describe('a signal aborted before construction', () => {
      it('destroys the stream with an AbortError, and nothing written is delivered', async () => {
        const made = make({ signal: AbortSignal.abort() });
        const errors: Error[] = [];
        made.stream.on('error', (error) => errors.push(error));
        const callbackError = new Promise((resolve) => made.stream.write('x', resolve));
        expect(made.stream.destroyed).to.equal(true);
        expect(await callbackError).to.have.property('code', 'ERR_STREAM_DESTROYED');
        const flushed = await made.stream.flush().then(
          () => 'resolved',
          (error: Error) => error,
        );
        await settled(made.stream);
        expect(errors.map((error) => error.name)).to.deep.equal(['AbortError']);
        expect(flushed).to.equal(errors[0]);
        expect(made.delivered()).to.have.length(0);
      });

      it('refuses a signal that is not an AbortSignal as Node does', () => {
        const node = ((): unknown => {
          try {
            oracle({ signal: {} as AbortSignal });
          } catch (error) {
            return (error as NodeJS.ErrnoException).code;
          }
          return 'no error';
        })();
        expect(node).to.equal('ERR_INVALID_ARG_TYPE');
        expect(() => make({ signal: {} as AbortSignal }))
          .to.throw(TypeError)
          .with.property('code', node);
      });
    });

    describe('waiters settle on every way the stream can end', () => {
      const ends = {
        'end()': (s: Batcher) => void s.end(),
        'destroy()': (s: Batcher) => void s.destroy(),
        'destroy(error)': (s: Batcher) => void s.destroy(new Error('boom')),
      };
      for (const emitClose of [true, false]) {
        for (const autoDestroy of [true, false]) {
          for (const [how, finish] of Object.entries(ends)) {
            it(`ready() and flush() settle on ${how} (emitClose ${emitClose}, autoDestroy ${autoDestroy})`, async () => {
              const made = make({ size: 4, highWaterMark: 4, emitClose, autoDestroy, stuck: true });
              const s = made.stream;
              s.on('error', () => {});
              while (s.write(Buffer.from('abcd')));
              const ready = s.ready().then(
                () => 'resolved',
                () => 'rejected',
              );
              const flushed = s.flush().then(
                () => 'resolved',
                () => 'rejected',
              );
              finish(s);
              expect(await ready).to.equal('rejected');
              if (how !== 'end()') expect(await flushed).to.equal('rejected');
            });
          }
          it(`Symbol.asyncDispose settles (emitClose ${emitClose}, autoDestroy ${autoDestroy})`, async () => {
            const made = make({ emitClose, autoDestroy });
            made.stream.write('x');
            await made.stream[Symbol.asyncDispose]();
            expect(made.stream.writableFinished).to.equal(true);
            expect(made.delivered().toString()).to.equal('x');
            // Disposing again, or after destroy(), settles too.
            await made.stream[Symbol.asyncDispose]();
            const other = make({ emitClose, autoDestroy });
            other.stream.destroy();
            await other.stream[Symbol.asyncDispose]();
          });
          it(`Symbol.asyncDispose settles when destroyed meanwhile (emitClose ${emitClose}, autoDestroy ${autoDestroy})`, async () => {
            const quiet = make({ size: 1, highWaterMark: 0, emitClose, autoDestroy, stuck: true });
            quiet.stream.write('x');
            const disposed = quiet.stream[Symbol.asyncDispose]();
            quiet.stream.destroy();
            await disposed;
            const failing = make({ size: 1, highWaterMark: 0, emitClose, autoDestroy, stuck: true });
            failing.stream.on('error', () => {});
            failing.stream.write('x');
            const boom = new Error('boom');
            const rejected = failing.stream[Symbol.asyncDispose]().catch((error: unknown) => error);
            failing.stream.destroy(boom);
            expect(await rejected).to.equal(boom);
          });
        }
      }
    });
  });
}

describe('AsyncBatchStream errored by a write after end() (autoDestroy: false)', () => {
  it('settles a flush() whose data waited behind a readable side nobody reads', async () => {
    const t = new AsyncBatchStream({ size: 1, autoDestroy: false });
    t.on('error', () => {});
    t.write('a');
    t.write('b');
    await nextTurn(); // 'a' fills the readable side; 'b' waits for a read that never comes
    const flushed = t.flush();
    t.end();
    await nextTurn(); // the end's own ticks have run: nothing pumps the core any more
    t.write('late');
    expect(t.destroyed).to.equal(false);
    await flushed;
  });
});

describe('BatchingWritable keeps the identity of an Error from onBatch', () => {
  it('an Error made in another realm is the error, not a value to wrap', async () => {
    const foreign = vm.runInNewContext('new Error("from a vm context")') as Error;
    expect(foreign instanceof Error).to.equal(false);
    expect(types.isNativeError(foreign)).to.equal(true);
    for (const fail of [
      () => {
        throw foreign;
      },
      () => Promise.reject(foreign),
    ]) {
      const made = faces.BatchingWritable({ onBatch: fail });
      const errored = once(made.stream, 'error');
      made.stream.write('x');
      const flushed = made.stream.flush().catch((error: unknown) => error);
      expect((await errored)[0]).to.equal(foreign);
      expect(await flushed).to.equal(foreign);
    }
  });
});

describe('BatchingWritable: write() from onBatch while callbacks wait for the drain', () => {
  it('returns false only once size + highWaterMark units wait, counting a held write once', async () => {
    const results: boolean[] = [];
    const made = faces.BatchingWritable({
      size: 4,
      highWaterMark: 16,
      onBatch: () => {
        if (results.length > 0) return;
        // 16 bytes wait once this batch was taken, and the callback of the
        // write that reached 20 still waits for the drain: the callback of
        // 'xxx' is held behind it, and Node queues 'y' behind 'xxx'.
        results.push(made.stream.write('xxx', 'utf8', () => {})); // 19 wait
        results.push(made.stream.write('y', 'utf8')); // 20 wait: the limit
      },
    });
    const stream = made.stream;
    let writes = 0;
    while (stream.write(Buffer.from('abcd'), () => {})) writes++;
    expect(writes).to.equal(4); // the fifth reached 20
    await stream.flush();
    expect(results).to.deep.equal([true, false]);
    expect(made.delivered().toString()).to.equal('abcd'.repeat(5) + 'xxxy');
  });
});
