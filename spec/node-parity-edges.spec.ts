import { expect } from 'chai';
import { once } from 'node:events';
import * as streams from 'node:stream';
import {
  addAbortSignal,
  type Duplex,
  finished,
  isErrored,
  pipeline,
  Readable,
  Writable,
  type WritableOptions,
} from 'node:stream';
import { pipeline as pipelinePromise } from 'node:stream/promises';
import { inspect } from 'node:util';
import { BatchingWritable } from '../lib/index';
import { deferred, nextTurn } from './support/helpers';

// BatchingWritable at the edges the differential fuzzer (spec/node-oracle.spec.ts)
// does not generate: constructor options and hooks, subclasses, Node's stream
// utilities, odd chunks and strings, and the state getters. Each case runs the
// same program on a plain Writable whose sink takes every write at once and on
// a BatchingWritable, and compares what the user observes: callbacks and events
// in order, what calls return and throw, and the bytes (or items) delivered
// (docs/semantics.md 13; the differences kept are in docs/node-parity.md).

type Kind = 'node' | 'ours';

// Node 20 has these; @types/node 20 does not declare them (isDisturbed only on Readable).
const { compose, isDisturbed, isWritable } = streams as unknown as {
  compose(...streams: unknown[]): Duplex;
  isDisturbed(stream: Writable): boolean;
  isWritable(stream: Writable): boolean;
};

/** What a program can reach while it runs on one of the two streams. */
interface Run {
  readonly kind: Kind;
  /** Appends an entry to the trace. */
  note(entry: string): void;
  /** A callback that notes `name`, and the error it gets, if any. */
  callback(name: string): (error?: Error | null) => void;
  /** What reached the sink so far: bytes as hex, or items. */
  delivered(): string;
}

/** What the user observed: the trace, and all that was delivered. */
interface Observed {
  trace: string[];
  delivered: string;
}

/** Builds the stream for a kind; `take` receives what reaches the sink, chunk or batch. */
type Make = (kind: Kind, take: (data: unknown) => void) => Writable;

/** How an error shows in a trace: its code, else its message. */
function describe_(error: unknown): string {
  if (error === null || error === undefined) return String(error);
  const { code, message, name } = error as { code?: string; message?: string; name?: string };
  return code ?? (message || name || inspect(error));
}

const EVENTS = ['error', 'finish', 'close'] as const;

/**
 * A plain Writable whose sink takes each write at once (the oracle), or a
 * BatchingWritable, each with `options`. Node's sink turns a string (with
 * `decodeStrings: false`, in byte mode) into the bytes it stands for.
 */
function makeWith(options: Record<string, unknown> = {}): Make {
  return (kind, take) =>
    kind === 'node'
      ? new Writable({
          ...(options as WritableOptions),
          writev(entries, callback) {
            for (const { chunk, encoding } of entries) {
              const decode = typeof chunk === 'string' && options.objectMode !== true;
              take(decode ? Buffer.from(chunk, encoding) : chunk);
            }
            callback();
          },
        })
      : new BatchingWritable({
          size: 16,
          ...(options as object),
          onBatch(batch: unknown) {
            take(batch);
          },
          // Any options a test gives: the cast is the point of the helper.
        } as unknown as ConstructorParameters<typeof BatchingWritable>[0]);
}

/**
 * Runs `program` on a stream of `kind` and returns what it observed, once the
 * stream has finished, closed or failed and the turn after has run.
 */
async function observe(
  kind: Kind,
  make: Make,
  program: (stream: Writable, run: Run) => void | Promise<void>,
  objectMode = false,
): Promise<Observed> {
  const trace: string[] = [];
  const items: unknown[] = [];
  const chunks: Buffer[] = [];
  const take = (data: unknown): void => {
    if (objectMode) items.push(...(kind === 'ours' ? (data as unknown[]) : [data]));
    // Node hands its sink the writer's own chunk: copy it, as a sink would.
    else chunks.push(Buffer.from(data as Uint8Array));
  };
  const delivered = (): string =>
    objectMode ? JSON.stringify(items) : Buffer.concat(chunks).toString('hex');
  const stream = make(kind, take);
  for (const event of EVENTS) {
    stream.on(event, (error?: unknown) =>
      trace.push(event === 'error' ? `error ${describe_(error)}` : event),
    );
  }
  const done = new Promise<void>((resolve) => finished(stream, () => resolve()));
  const run: Run = {
    kind,
    note: (entry) => trace.push(entry),
    callback: (name) => (error) => trace.push(error ? `${name} ${describe_(error)}` : name),
    delivered,
  };
  try {
    await program(stream, run);
  } catch (error) {
    trace.push(`threw ${(error as Error).constructor.name} ${describe_(error)}`);
  }
  await done;
  await nextTurn();
  return { trace, delivered: delivered() };
}

/**
 * Runs `program` on both streams; ours must observe what Node's does. Returns
 * Node's. With `destroys`, what ours delivered need only be a prefix of what
 * Node's sink took: a destroyed stream drops what it had not handed over
 * (docs/node-parity.md, timing of delivery).
 */
async function expectSame(
  make: Make,
  program: (stream: Writable, run: Run) => void | Promise<void>,
  { objectMode = false, destroys = false } = {},
): Promise<Observed> {
  const node = await observe('node', make, program, objectMode);
  const ours = await observe('ours', make, program, objectMode);
  if (destroys) {
    expect(ours.trace).to.deep.equal(node.trace);
    expect(node.delivered.startsWith(ours.delivered), 'a prefix').to.equal(true);
  } else {
    expect(ours).to.deep.equal(node);
  }
  return node;
}

/** The state getters a user reads, as one line. */
function snapshot(stream: Writable): string {
  const names = [
    'writableLength',
    'writableNeedDrain',
    'writableEnded',
    'writableFinished',
    'writableCorked',
    'writableHighWaterMark',
    'writableObjectMode',
    'writable',
    'destroyed',
    'closed',
    'errored',
    'writableAborted',
  ] as const;
  return names
    .map((name) => {
      const value: unknown = stream[name];
      return `${name}=${value instanceof Error ? describe_(value) : String(value)}`;
    })
    .join(' ');
}

/** What a constructor call throws: class, code and message, or 'ok'. */
function thrownBy(construct: () => unknown): string {
  try {
    construct();
    return 'ok';
  } catch (error) {
    return `${(error as Error).constructor.name} ${describe_(error)}: ${(error as Error).message}`;
  }
}

describe('BatchingWritable at the edges, side by side with a plain Writable', () => {
  describe('constructor options Node takes', () => {
    it('runs a final option once every batch has settled, before finish', async () => {
      const node = await expectSame(
        makeWith({
          maxDelay: Infinity,
          final(this: Writable, callback: (error?: Error | null) => void) {
            trace(this).note(`final saw ${trace(this).delivered()}`);
            setImmediate(callback);
          },
        }),
        (stream, run) => {
          bind(stream, run);
          stream.write('ab');
          stream.write('cd');
          stream.end(run.callback('end'));
        },
      );
      expect(node.trace).to.deep.equal(['final saw 61626364', 'end', 'finish', 'close']);
    });

    it('fails the stream with the error a final option calls back with', async () => {
      const node = await expectSame(
        makeWith({
          final(callback: (error?: Error | null) => void) {
            setImmediate(() => callback(new Error('final failed')));
          },
        }),
        (stream, run) => {
          stream.write('ab');
          stream.end(run.callback('end'));
        },
      );
      expect(node.trace).to.deep.equal(['end final failed', 'error final failed', 'close']);
    });

    it('fails the stream with what a final option throws', async () => {
      // Node calls a final option from inside end(), ours once the batches
      // have settled: the same callbacks and events, in the order of a final
      // that failed later (see the case above).
      const make = makeWith({
        final() {
          throw new Error('final threw');
        },
      });
      const program = (stream: Writable, run: Run): void => {
        stream.write('ab');
        stream.end(run.callback('end'));
      };
      const node = await observe('node', make, program);
      const ours = await observe('ours', make, program);
      expect(ours.trace).to.have.members(node.trace).and.to.have.lengthOf(node.trace.length);
      expect(ours.trace).to.deep.equal(['end final threw', 'error final threw', 'close']);
      expect(ours.delivered).to.equal(node.delivered);
    });

    it('calls a destroy option with the error, and the stream takes the error it calls back with', async () => {
      const node = await expectSame(
        makeWith({
          destroy(this: Writable, error: Error | null, callback: (error?: Error | null) => void) {
            trace(this).note(`destroy ${describe_(error)}`);
            callback(new Error('replaced'));
          },
        }),
        (stream, run) => {
          bind(stream, run);
          stream.write('ab', run.callback('write'));
          stream.destroy(new Error('first'));
          run.note(`errored ${describe_(stream.errored)}`);
        },
        { destroys: true },
      );
      expect(node.trace).to.deep.equal([
        'destroy first',
        'errored first',
        'write',
        'error replaced',
        'close',
      ]);
    });

    it('fails the stream with what a destroy option throws', async () => {
      await expectSame(
        makeWith({
          destroy() {
            throw new Error('destroy threw');
          },
        }),
        (stream, run) => {
          stream.write('ab', run.callback('write'));
          stream.destroy(new Error('stop'));
        },
        { destroys: true },
      );
    });

    it('runs a destroy option once the onBatch calls still running have settled (concurrency 2)', async () => {
      // Ours only: a plain Writable has one write in flight at most.
      const trace: string[] = [];
      const gates = [deferred(), deferred()];
      const stream = new BatchingWritable({
        size: 2,
        concurrency: 2,
        onBatch: async (batch) => {
          trace.push(`onBatch ${String(batch)}`);
          await gates[trace.length - 1].promise;
          trace.push(`settled ${String(batch)}`);
        },
        destroy(error, callback) {
          trace.push(`destroy ${describe_(error)}`);
          callback(error);
        },
      });
      // Not events.once: it rejects on 'error'.
      const closed = new Promise((resolve) => stream.once('close', resolve));
      stream.on('error', (error) => trace.push(`error ${describe_(error)}`));
      stream.write('ab');
      stream.write('cd');
      while (stream.stats.inFlight < 2) await nextTurn();
      stream.destroy(new Error('stop'));
      trace.push('destroy() returned');
      gates[1].resolve();
      gates[0].resolve();
      await closed;
      expect(trace).to.deep.equal([
        'onBatch ab',
        'onBatch cd',
        'destroy() returned',
        'settled cd',
        'settled ab',
        'destroy stop',
        'error stop',
      ]);
    });

    it('calls a destroy option with null when autoDestroy destroys a finished stream', async () => {
      await expectSame(
        makeWith({
          destroy(this: Writable, error: Error | null, callback: (error?: Error | null) => void) {
            trace(this).note(`destroy ${describe_(error)} saw ${trace(this).delivered()}`);
            callback(error);
          },
        }),
        (stream, run) => {
          bind(stream, run);
          stream.end('ab');
        },
      );
    });

    it('holds every write until a construct option calls back, then delivers them', async () => {
      const node = await expectSame(
        makeWith({
          construct(this: Writable, callback: (error?: Error | null) => void) {
            setImmediate(() => {
              trace(this).note(`constructed, saw '${trace(this).delivered()}'`);
              callback();
            });
          },
        }),
        (stream, run) => {
          bind(stream, run);
          run.note(`write ${stream.write('ab', run.callback('write'))}`);
          stream.end('cd', run.callback('end'));
        },
      );
      expect(node.trace[1]).to.equal("constructed, saw ''");
      expect(node.delivered).to.equal('61626364');
    });

    it('fails held writes and end() with the error of a construct option', async () => {
      await expectSame(
        makeWith({
          construct(callback: (error?: Error | null) => void) {
            setImmediate(() => callback(new Error('construct failed')));
          },
        }),
        (stream, run) => {
          stream.write('ab', run.callback('write'));
          stream.end(run.callback('end'));
        },
      );
    });

    it('refuses the highWaterMark and defaultEncoding values Node refuses, with its errors', () => {
      const bad: Record<string, unknown>[] = [
        { highWaterMark: -1 },
        { highWaterMark: NaN },
        { highWaterMark: '16' },
        { highWaterMark: 1.5 },
        { highWaterMark: Infinity },
        { highWaterMark: -Infinity },
        { defaultEncoding: 'nope' },
        { defaultEncoding: 'buffer' },
        { signal: {} },
        { signal: 'abort' },
      ];
      for (const options of bad) {
        const node = thrownBy(() => new Writable(options));
        expect(node, inspect(options)).to.not.equal('ok');
        expect(
          thrownBy(() => makeWith(options)('ours', () => {})),
          inspect(options),
        ).to.equal(node);
      }
    });

    it('takes the options Node takes and ignores, and the spellings it accepts', async () => {
      for (const options of [
        { writableHighWaterMark: 5 },
        { writableObjectMode: true },
        { highWaterMark: null },
        { highWaterMark: 2 ** 40 },
        { defaultEncoding: 'UTF-16LE' },
        { defaultEncoding: 'Hex' },
        { defaultEncoding: 'BASE64' },
        { defaultEncoding: 'Binary' },
        { defaultEncoding: 'UCS-2' },
        { defaultEncoding: null },
        { emitClose: 'yes' },
        { autoDestroy: 0 },
      ]) {
        await expectSame(makeWith(options), (stream, run) => {
          run.note(snapshot(stream));
          stream.write('6162é');
          stream.end(run.callback('end'));
          run.note(snapshot(stream));
        });
      }
    });

    it('delivers with decodeStrings: false the bytes Node’s sink would decode', async () => {
      const node = await expectSame(makeWith({ decodeStrings: false }), (stream) => {
        stream.write('héllo', 'latin1');
        stream.write('ff00', 'hex');
        stream.end('€', 'utf16le');
      });
      expect(node.delivered).to.equal(
        Buffer.concat([
          Buffer.from('héllo', 'latin1'),
          Buffer.from('ff00', 'hex'),
          Buffer.from('€', 'utf16le'),
        ]).toString('hex'),
      );
    });
  });

  describe('calls Node takes that its documentation does not list', () => {
    it('destroy(error, callback) calls the callback once destroyed', async () => {
      type DestroyWithCallback = (
        this: Writable,
        error?: Error | null,
        callback?: (error?: Error | null) => void,
      ) => Writable;
      await expectSame(
        makeWith(),
        (stream, run) => {
          stream.write('ab');
          const destroy = stream.destroy as DestroyWithCallback;
          destroy.call(stream, new Error('stop'), run.callback('destroyed'));
          destroy.call(stream, null, run.callback('destroyed again'));
        },
        { destroys: true },
      );
    });
  });

  describe('subclasses', () => {
    /** A subclass of the plain Writable (the oracle) or of ours, with the same overrides. */
    function subclassed(
      overrides: (Base: new () => Writable) => new () => Writable,
      options: Record<string, unknown> = {},
    ): Make {
      return (kind, take) => {
        const Base =
          kind === 'node'
            ? class extends Writable {
                constructor() {
                  super({
                    ...(options as WritableOptions),
                    writev(entries, callback) {
                      for (const { chunk } of entries) take(chunk);
                      callback();
                    },
                  });
                }
              }
            : class extends BatchingWritable {
                constructor() {
                  super({ size: 16, ...options, onBatch: (batch: Buffer) => take(batch) });
                }
              };
        return new (overrides(Base))();
      };
    }

    it('runs a subclass’s _final that does not call super once every batch has settled', async () => {
      // Before, ours ran it at once: 'finish' came and the open batch was
      // never handed over.
      const make = subclassed(
        (Base) =>
          class extends Base {
            override _final(callback: (error?: Error | null) => void): void {
              trace(this).note(`final saw ${trace(this).delivered()}`);
              callback();
            }
          },
        { maxDelay: Infinity },
      );
      const node = await expectSame(make, (stream, run) => {
        bind(stream, run);
        stream.write('ab');
        stream.end('cd', run.callback('end'));
      });
      expect(node.trace).to.deep.equal(['final saw 61626364', 'end', 'finish', 'close']);
    });

    it('runs a subclass’s _final that calls super._final, later', async () => {
      const make = subclassed(
        (Base) =>
          class extends Base {
            override _final(callback: (error?: Error | null) => void): void {
              trace(this).note(`final saw ${trace(this).delivered()}`);
              setImmediate(() => {
                const own = Object.getPrototypeOf(Object.getPrototypeOf(this)) as Writable;
                if (typeof own._final === 'function') own._final.call(this, callback);
                else callback();
              });
            }
          },
      );
      await expectSame(make, (stream, run) => {
        bind(stream, run);
        stream.write('ab');
        stream.end('cd', run.callback('end'));
      });
    });

    it('holds writes until a subclass’s _construct calls back', async () => {
      const make = subclassed(
        (Base) =>
          class extends Base {
            override _construct(callback: (error?: Error | null) => void): void {
              setImmediate(() => {
                trace(this).note(`constructed, saw '${trace(this).delivered()}'`);
                callback();
              });
            }
          },
      );
      await expectSame(make, (stream, run) => {
        bind(stream, run);
        stream.write('ab', run.callback('write'));
        stream.end(run.callback('end'));
      });
    });

    it('takes what a subclass’s write() passes to super.write, in every argument shape', async () => {
      const make = subclassed(
        (Base) =>
          class extends Base {
            override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
              const upper = typeof chunk === 'string' ? chunk.toUpperCase() : chunk;
              return super.write(upper, encoding as BufferEncoding, callback as () => void);
            }
          },
      );
      await expectSame(make, (stream, run) => {
        run.note(`write ${stream.write('ab', run.callback('first'))}`);
        run.note(`write ${stream.write('cd', 'latin1')}`);
        run.note(`write ${stream.write('ef', 'utf8', run.callback('third'))}`);
        stream.end('gh', run.callback('end'));
      });
    });

    it('calls a subclass’s _destroy that calls super, with the error', async () => {
      const make = subclassed(
        (Base) =>
          class extends Base {
            override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
              trace(this).note(`destroy ${describe_(error)}`);
              super._destroy(error, callback);
            }
          },
      );
      await expectSame(
        make,
        (stream, run) => {
          bind(stream, run);
          stream.write('ab', run.callback('write'));
          stream.destroy(new Error('stop'));
        },
        { destroys: true },
      );
    });
  });

  describe("Node's stream utilities with ours as the subject or the destination", () => {
    const make = makeWith();

    it('finished() reports a normal end, and a destroy() before it as a premature close', async () => {
      await expectSame(make, (stream, run) => {
        finished(stream, run.callback('finished'));
        stream.write('ab');
        stream.end();
      });
      await expectSame(
        make,
        (stream, run) => {
          finished(stream, run.callback('finished'));
          stream.write('ab');
          stream.destroy();
        },
        { destroys: true },
      );
      await expectSame(make, async (stream, run) => {
        stream.end('ab');
        await once(stream, 'finish');
        finished(stream, run.callback('finished after finish'));
      });
    });

    it('pipeline() delivers a source and ends, and fails on a source error', async () => {
      await expectSame(make, (stream, run) => {
        pipeline(Readable.from(['ab', 'cd', 'ef']), stream, run.callback('pipeline'));
      });
      await expectSame(
        make,
        (stream, run) => {
          const source = new Readable({
            read() {
              this.push('ab');
              this.destroy(new Error('source failed'));
            },
          });
          pipeline(source, stream, run.callback('pipeline'));
        },
        { destroys: true },
      );
    });

    it('pipeline() fails, and destroys the source, when the destination is destroyed', async () => {
      await expectSame(
        make,
        (stream, run) => {
          const source = Readable.from(['ab', 'cd', 'ef']);
          pipeline(source, stream, (error) => {
            run.note(`pipeline ${describe_(error)}, source destroyed ${source.destroyed}`);
          });
          stream.destroy(new Error('destination failed'));
        },
        { destroys: true },
      );
    });

    it('finished() with { writable: false } or { error: false } reports as on Node', async () => {
      await expectSame(make, (stream, run) => {
        finished(stream, { writable: false }, run.callback('finished, writable false'));
        finished(stream, { error: false }, run.callback('finished, error false'));
        stream.end('ab');
      });
      await expectSame(
        make,
        (stream, run) => {
          finished(stream, { error: false }, run.callback('finished, error false'));
          stream.write('ab');
          stream.destroy(new Error('stop'));
        },
        { destroys: true },
      );
    });

    it('Readable.from(...).pipe() delivers many chunks through backpressure and ends', async () => {
      const chunks = Array.from({ length: 200 }, (_, i) => `chunk ${i};`);
      await expectSame(makeWith({ highWaterMark: 8, size: 32 }), async (stream, run) => {
        const ended = new Promise((resolve) => stream.once('finish', resolve));
        Readable.from(chunks).pipe(stream);
        await ended;
        run.note(`needDrain ${stream.writableNeedDrain}`);
      });
    });

    it('pipeline() with an AbortSignal destroys the destination on abort', async () => {
      await expectSame(
        make,
        async (stream, run) => {
          const controller = new AbortController();
          const source = new Readable({ read() {} });
          source.push('ab');
          const piping = pipelinePromise(source, stream, { signal: controller.signal });
          await nextTurn();
          controller.abort();
          await piping.catch((error: unknown) => run.note(`pipeline ${describe_(error)}`));
        },
        { destroys: true },
      );
    });

    it('Readable#pipe() delivers through backpressure, and unpipe() stops it', async () => {
      // highWaterMark 1 and size 1: every write of ours is at the limit too.
      await expectSame(makeWith({ highWaterMark: 1, size: 1 }), async (stream, run) => {
        const source = new Readable({ read() {} });
        stream.on('unpipe', () => run.note('unpipe'));
        source.pipe(stream);
        source.push('abcd');
        source.push('ef');
        // Ours returns false and waits for its 'drain' (docs/node-parity.md,
        // backpressure); Node's instant sink never makes it wait.
        while (run.delivered() !== '616263646566') await nextTurn();
        source.unpipe(stream);
        source.push('gh');
        await nextTurn();
        run.note(`flowing ${source.readableFlowing} needDrain ${stream.writableNeedDrain}`);
        stream.end();
      });
    });

    it('addAbortSignal() destroys it with an AbortError', async () => {
      await expectSame(
        make,
        (stream, run) => {
          const controller = new AbortController();
          addAbortSignal(controller.signal, stream);
          stream.write('ab', run.callback('write'));
          controller.abort();
          run.note(`errored ${(stream.errored as Error).name}`);
        },
        { destroys: true },
      );
    });

    it('isErrored(), isWritable() and isDisturbed() read it as Node’s', async () => {
      const state = (stream: Writable): string =>
        `${isErrored(stream)} ${isWritable(stream)} ${isDisturbed(stream)}`;
      await expectSame(
        make,
        (stream, run) => {
          run.note(state(stream));
          stream.write('ab');
          run.note(state(stream));
          stream.destroy(new Error('stop'));
          run.note(state(stream));
        },
        { destroys: true },
      );
      await expectSame(make, (stream, run) => {
        stream.end('ab');
        run.note(state(stream));
      });
    });

    it('compose() puts it at the end of a chain', async () => {
      await expectSame(make, async (stream, run) => {
        const upper = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<string> {
          for await (const chunk of source) yield String(chunk).toUpperCase();
        };
        const chain = compose(upper, stream);
        chain.write('ab');
        chain.end('cd');
        await once(chain, 'finish');
        run.note('chain finished');
      });
    });

    it('Writable.toWeb() writes, closes and aborts through a web writer', async () => {
      await expectSame(make, async (stream, run) => {
        const writer = Writable.toWeb(stream).getWriter();
        await writer.write(new TextEncoder().encode('ab'));
        await writer.write(new Uint8Array([0x63]));
        await writer.close();
        run.note('closed');
      });
      await expectSame(
        make,
        async (stream, run) => {
          const writer = Writable.toWeb(stream).getWriter();
          await writer.write(new Uint8Array([0x61]));
          await writer.abort(new Error('aborted'));
          run.note(`errored ${describe_(stream.errored)} destroyed ${stream.destroyed}`);
        },
        { destroys: true },
      );
    });

    it("events.once(stream, 'finish') resolves, and Writable.prototype.write.call() writes", async () => {
      await expectSame(make, async (stream, run) => {
        const finishing = once(stream, 'finish');
        const nodeWrite = Writable.prototype.write as (chunk: unknown, callback: () => void) => boolean;
        run.note(`write ${nodeWrite.call(stream, 'ab', run.callback('write'))}`);
        stream.end('cd');
        await finishing;
        run.note('once finish');
      });
    });

    it('captureRejections destroys it with the error of a rejecting listener', async () => {
      await expectSame(
        makeWith({ captureRejections: true }),
        (stream) => {
          stream.on('custom', () => Promise.reject(new Error('listener rejected')));
          stream.write('ab');
          stream.emit('custom');
        },
        { destroys: true },
      );
    });

    it('is a Writable to instanceof, and util.inspect names its class', () => {
      const ours = makeWith()('ours', () => {});
      expect(ours).to.be.an.instanceOf(Writable);
      expect(inspect(ours, { depth: 0 })).to.match(/^BatchingWritable \{/);
    });
  });

  describe('odd chunks and strings', () => {
    const make = makeWith();
    /** Writes each argument list in turn: the writes of one case. */
    type Write = [chunk: unknown, encoding?: unknown, callback?: unknown];
    const writeAll = (stream: Writable, writes: Write[]): void => {
      for (const [chunk, encoding, callback] of writes) {
        stream.write(chunk, encoding as BufferEncoding, callback as () => void);
      }
    };
    /** A view whose ArrayBuffer was transferred away: it now has none. */
    const detached = <V>(view: (buffer: ArrayBuffer) => V): V => {
      const buffer = new ArrayBuffer(4);
      const made = view(buffer);
      structuredClone(buffer, { transfer: [buffer] });
      return made;
    };
    const resizable = (): Uint8Array => {
      const buffer = new ArrayBuffer(2, { maxByteLength: 8 });
      return new Uint8Array(buffer).fill(1);
    };
    const cases: [string, (run: Run) => Write[], ((stream: Writable, run: Run) => void)?][] = [
      ['surrogate halves split across utf8 writes', () => [['\ud83d'], ['\ude00']]],
      [
        'surrogate halves split across utf16le writes',
        () => [
          ['\ud83d', 'utf16le'],
          ['\ude00', 'ucs2'],
        ],
      ],
      ['a surrogate pair and lone halves in one utf8 write', () => [['a\ud83d\ude00b\udc00\ud800']]],
      [
        'latin1 and ascii beyond their range',
        () => [
          ['\u0100€', 'latin1'],
          ['é€', 'ascii'],
        ],
      ],
      ['a string longer than 64 KiB', () => [['é'.repeat(40_000)], ['x'.repeat(70_000), 'latin1']]],
      [
        'hex and base64 that decode to no bytes',
        (r) => [
          ['z', 'hex', r.callback('hex')],
          ['=', 'base64', r.callback('base64')],
          ['@', 'base64url', r.callback('base64url')],
        ],
      ],
      [
        'write(string, callback) and write(buffer, "buffer", callback)',
        (r) => [
          ['ab', r.callback('string')],
          [Buffer.from('cd'), 'buffer', r.callback('buffer')],
        ],
      ],
      ['write(string, "buffer")', () => [['ab', 'buffer']]],
      ['an encoding that is not a string', () => [['ab', 5]]],
      ['an unknown encoding with a Buffer', () => [[Buffer.from('ab'), 'bogus']]],
      [
        'a known encoding with a Buffer, which it does not decode',
        (r) => [[Buffer.from('ab'), 'hex', r.callback('write')]],
      ],
      ['a null encoding and a callback', (r) => [['ab', null, r.callback('write')]]],
      [
        'a callback that is not a function',
        () => [
          ['ab', 'utf8', 5],
          ['cd', 'utf8', null],
          ['ef', undefined, {}],
        ],
      ],
      ['an object in the encoding place', () => [['ab', {}]]],
      ['an ArrayBuffer', () => [[new ArrayBuffer(2)]]],
      ['a SharedArrayBuffer', () => [[new SharedArrayBuffer(2)]]],
      [
        'a view of a SharedArrayBuffer',
        () => [[new Uint8Array(new SharedArrayBuffer(4)).fill(7).subarray(1, 3)]],
      ],
      [
        'a Buffer subclass',
        () => [[Object.setPrototypeOf(Buffer.from('ab'), class Sub extends Buffer {}.prototype) as Buffer]],
      ],
      [
        'typed arrays and DataViews at an offset',
        () => [
          [new Uint16Array([0x102, 0x304])],
          [new Float64Array([1, 2]).subarray(1)],
          [new DataView(new ArrayBuffer(6), 2, 3)],
        ],
      ],
      [
        'a view of a resizable ArrayBuffer, grown after a write',
        () => [],
        (stream) => {
          const view = resizable();
          stream.write(view);
          (view.buffer as ArrayBuffer).resize(4);
          stream.write(view);
        },
      ],
      [
        'a chunk changed after write() returned',
        () => [],
        (stream) => {
          const chunk = Buffer.from('abcd');
          stream.write(chunk);
          chunk.fill(0);
        },
      ],
      [
        'a boxed string, a number, undefined and null',
        () => [],
        (stream, run) => {
          for (const bad of [new String('ab'), 5, undefined, null]) {
            try {
              stream.write(bad, run.callback('never'));
            } catch (error) {
              run.note(`threw ${describe_(error)}`);
            }
          }
        },
      ],
      [
        'a Uint8Array whose buffer was transferred',
        (r) => [[detached((b) => new Uint8Array(b)), r.callback('write')]],
      ],
      [
        'a Uint8Array whose buffer was transferred, after a write',
        () => [['ab'], [detached((b) => new Uint8Array(b))]],
      ],
      [
        'a Buffer whose buffer was transferred',
        (r) => [[detached((b) => Buffer.from(b)), r.callback('write')]],
      ],
      [
        'a Buffer whose buffer was transferred, after a write',
        (r) => [
          ['ab'],
          [detached((b) => Buffer.from(b))],
          [detached((b) => Buffer.from(b)), r.callback('write')],
        ],
      ],
      [
        'a DataView whose buffer was transferred',
        (r) => [[detached((b) => new DataView(b)), r.callback('write')]],
      ],
    ];
    for (const [title, writes, program] of cases) {
      it(`${title}: the same bytes, callbacks and throws`, async () => {
        await expectSame(make, (stream, run) => {
          try {
            writeAll(stream, writes(run));
            program?.(stream, run);
          } catch (error) {
            run.note(`threw ${(error as Error).constructor.name} ${describe_(error)}`);
          }
          stream.end(run.callback('end'));
        });
      });
    }

    const views: [string, (buffer: ArrayBuffer) => ArrayBufferView][] = [
      ['Uint8Array', (buffer) => new Uint8Array(buffer)],
      ['DataView', (buffer) => new DataView(buffer)],
    ];
    for (const [kind, view] of views) {
      it(`writeV() refuses a ${kind} whose buffer was transferred as write() does, writing none of the group`, async () => {
        // writeV is compared with its chunks written back to back, where Node's
        // write() throws at that chunk; a bad chunk fails the whole group.
        const node = await observe('node', make, (stream, run) => {
          try {
            stream.write(detached(view), run.callback('never'));
          } catch (error) {
            run.note(`threw ${(error as Error).constructor.name} ${describe_(error)}`);
          }
          stream.end('cd');
        });
        const ours = await observe('ours', make, (stream, run) => {
          try {
            // A DataView is no ByteChunk to the types; Node's write() takes any view.
            const chunk = detached(view) as Uint8Array;
            (stream as BatchingWritable).writeV([Buffer.from('ab'), chunk], run.callback('never'));
          } catch (error) {
            run.note(`threw ${(error as Error).constructor.name} ${describe_(error)}`);
          }
          stream.end('cd');
        });
        expect(node.trace[0]).to.match(/^threw TypeError .*detached ArrayBuffer/);
        expect(ours).to.deep.equal(node);
        expect(ours.delivered).to.equal(Buffer.from('cd').toString('hex'));
      });
    }

    it('object mode takes any item but null, as Node does, and end() writes none for null or undefined', async () => {
      const items = [undefined, 0, '', false, NaN, Symbol('item'), () => 1, [], {}, Buffer.alloc(0)];
      await expectSame(
        makeWith({ objectMode: true }),
        (stream, run) => {
          for (const item of items) run.note(`write ${stream.write(item, run.callback('written'))}`);
          try {
            stream.write(null);
          } catch (error) {
            run.note(`threw ${describe_(error)}`);
          }
          stream.write('ab', 'hex', run.callback('string with an encoding'));
          stream.end(undefined, run.callback('end'));
        },
        { objectMode: true },
      );
    });

    it('empty strings in every encoding: the same return values and callbacks', async () => {
      const encodings = [
        'utf8',
        'utf-8',
        'utf16le',
        'ucs2',
        'latin1',
        'binary',
        'ascii',
        'hex',
        'base64',
        'base64url',
      ] as const;
      await expectSame(make, (stream, run) => {
        for (const encoding of encodings)
          run.note(`${encoding} ${stream.write('', encoding, run.callback(encoding))}`);
        stream.end('', 'hex', run.callback('end'));
      });
    });
  });

  describe('state getters at every step', () => {
    const steps = (stream: Writable, run: Run): void => {
      run.note(snapshot(stream));
      stream.write('ab');
      run.note(snapshot(stream));
      stream.cork();
      stream.write('cd');
      run.note(snapshot(stream));
      stream.uncork();
      run.note(snapshot(stream));
    };
    const cases: [
      string,
      Record<string, unknown>,
      (stream: Writable, run: Run) => void | Promise<void>,
      boolean?,
    ][] = [
      [
        'writes, cork() and end()',
        {},
        (s, r) => {
          steps(s, r);
          s.end();
          r.note(snapshot(s));
          s.once('finish', () => r.note(snapshot(s)));
        },
      ],
      [
        'object mode',
        { objectMode: true },
        (s, r) => {
          r.note(snapshot(s));
          s.write({ a: 1 });
          s.cork();
          s.write(0);
          r.note(snapshot(s));
          s.end();
          r.note(snapshot(s));
        },
      ],
      [
        'highWaterMark 0',
        { highWaterMark: 0 },
        (s, r) => {
          steps(s, r);
          s.end();
        },
      ],
      [
        'a write held by construct',
        { construct: (callback: () => void) => setImmediate(callback) },
        async (s, r) => {
          steps(s, r);
          await nextTurn();
          r.note(snapshot(s));
          s.end();
        },
      ],
      [
        'a construct error',
        {
          construct: (callback: (error: Error) => void) =>
            setImmediate(() => callback(new Error('construct failed'))),
        },
        (s, r) => {
          s.write('ab');
          r.note(snapshot(s));
          s.once('close', () => r.note(snapshot(s)));
        },
      ],
      [
        'destroy(error)',
        {},
        (s, r) => {
          s.write('ab');
          s.destroy(new Error('stop'));
          r.note(snapshot(s));
          s.once('close', () => r.note(snapshot(s)));
        },
        true,
      ],
      [
        'destroy() after end()',
        {},
        (s, r) => {
          s.end('ab');
          s.destroy();
          r.note(snapshot(s));
          s.once('close', () => r.note(snapshot(s)));
        },
        true,
      ],
      [
        'a write after end() with autoDestroy false',
        { autoDestroy: false },
        (s, r) => {
          s.end();
          s.write('ab');
          r.note(snapshot(s));
        },
      ],
      [
        'emitClose false',
        { emitClose: false },
        (s, r) => {
          s.end('ab');
          s.once('finish', () => setImmediate(() => r.note(snapshot(s))));
        },
      ],
    ];
    it('writableNeedDrain is false once ended or destroyed, though a drain was owed', async () => {
      // A sink that never finishes its write, and a consumer that never settles.
      const stuck: Make = (kind) =>
        kind === 'node'
          ? new Writable({ highWaterMark: 4, write() {} })
          : new BatchingWritable({ size: 4, highWaterMark: 4, onBatch: () => new Promise(() => {}) });
      for (const last of ['end', 'destroy'] as const) {
        await expectSame(
          stuck,
          (stream, run) => {
            while (stream.write('ab'));
            run.note(`needDrain ${stream.writableNeedDrain}`);
            if (last === 'end') {
              stream.end();
              run.note(`needDrain after end() ${stream.writableNeedDrain}`);
            }
            stream.destroy();
            run.note(`needDrain after destroy() ${stream.writableNeedDrain}`);
          },
          { destroys: true },
        );
      }
    });

    for (const [title, options, program, destroys = false] of cases) {
      it(`${title}: the same getters`, async () => {
        await expectSame(makeWith(options), program, { destroys, objectMode: options.objectMode === true });
      });
    }
  });
});

/** The run a stream's hooks note to: hooks get only the stream. */
const runs = new WeakMap<Writable, Run>();

function bind(stream: Writable, run: Run): void {
  runs.set(stream, run);
}

function trace(stream: Writable): Run {
  const run = runs.get(stream);
  if (run === undefined) throw new Error('the program did not bind its run');
  return run;
}
