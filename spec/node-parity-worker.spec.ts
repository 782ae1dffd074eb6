import { expect } from 'chai';
import fc from 'fast-check';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { WorkerChannel, WorkerWritable } from '../lib/index';

// WorkerWritable is a stream.Writable: on the reader's own thread, with a
// ring that never fills, a user must see what a plain Writable with a
// synchronous sink shows them (docs/workers.md: the writer side is a
// Writable of bytes): the same return values and throws, the same callbacks
// in the same order with the same errors, the same events, the same state
// after each call, and the same bytes at the other end. Random programs of
// user calls, run on both. A failure prints the program; MWSR_FUZZ_SEED and
// MWSR_FUZZ_RUNS replay and widen it.
const SEED = process.env.MWSR_FUZZ_SEED === undefined ? 0x776b7772 : Number(process.env.MWSR_FUZZ_SEED);
const RUNS = process.env.MWSR_FUZZ_RUNS === undefined ? 150 : Number(process.env.MWSR_FUZZ_RUNS);

type Chunk =
  | { kind: 'string'; text: string }
  | { kind: 'buffer'; bytes: number[] }
  | { kind: 'view'; bytes: number[]; offset: number }
  | { kind: 'typed'; type: 'Uint16Array' | 'DataView'; bytes: number[] }
  | { kind: 'bad'; value: 'number' | 'object' | 'null' | 'undefined' };

/** Left out ('omit'), or passed: valid encodings in several spellings, `undefined` and a bad one. */
type Encoding = 'omit' | 'undefined' | 'utf8' | 'UTF-8' | 'latin1' | 'hex' | 'base64' | 'buffer' | 'bogus';

/**
 * The write's callback: none, one of two shared ones, its own, or one that
 * from inside ends the stream, writes a string with a callback, or writes a
 * Buffer without one (as a loop of plain writes does).
 */
type WriteCallbackKind = 'none' | 'X' | 'Y' | 'own' | 'end' | 'write' | 'writeBuffer';

type Op =
  | { op: 'write'; chunk: Chunk; encoding: Encoding; callback: WriteCallbackKind }
  | { op: 'cork' }
  | { op: 'uncork' }
  | { op: 'setDefaultEncoding'; encoding: Encoding }
  | { op: 'end'; chunk: Chunk | null; callback: boolean }
  | { op: 'destroy'; error: boolean }
  | { op: 'wait'; hop: 'tick' | 'microtask' | 'immediate' };

interface Program {
  highWaterMark: number | undefined;
  /** A `'prefinish'` listener that writes a Buffer: Node's `end()` may emit it before it returns. */
  writeOnPrefinish: boolean;
  ops: Op[];
}

const bytesArb = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 });
const textArb = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('', 'zz', 'ab1', 'QUJD\n\n', 'QQ==QQ', 'é€😀', '\ud800', 'ff00'),
);
const chunkArb: fc.Arbitrary<Chunk> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('string' as const), text: textArb }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('buffer' as const), bytes: bytesArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('view' as const),
      bytes: bytesArb,
      offset: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('typed' as const),
      type: fc.constantFrom('Uint16Array' as const, 'DataView' as const),
      bytes: bytesArb.map((bytes) => (bytes.length % 2 === 0 ? bytes : bytes.slice(1))),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bad' as const),
      value: fc.constantFrom('number' as const, 'object' as const, 'null' as const, 'undefined' as const),
    }),
  },
);
const encodingArb = fc.constantFrom<Encoding>(
  'omit',
  'omit',
  'omit',
  'undefined',
  'utf8',
  'UTF-8',
  'latin1',
  'hex',
  'base64',
  'buffer',
  'bogus',
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('write' as const),
      chunk: chunkArb,
      encoding: encodingArb,
      callback: fc.constantFrom<WriteCallbackKind>('none', 'X', 'Y', 'own', 'end', 'write', 'writeBuffer'),
    }),
  },
  // The commonest call of all, which WorkerWritable takes on a shorter path
  // than Node's while nothing is queued: bytes, no encoding, no callback.
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('write' as const),
      chunk: fc.record({
        kind: fc.constant('buffer' as const),
        bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }),
      }),
      encoding: fc.constant<Encoding>('omit'),
      callback: fc.constant<WriteCallbackKind>('none'),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: 'cork' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'uncork' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('setDefaultEncoding' as const), encoding: encodingArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('end' as const),
      chunk: fc.option(chunkArb, { freq: 2 }),
      callback: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('destroy' as const), error: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('wait' as const),
      hop: fc.constantFrom('tick' as const, 'microtask' as const, 'immediate' as const),
    }),
  },
);
const programArb: fc.Arbitrary<Program> = fc.record({
  highWaterMark: fc.constantFrom(undefined, 0, 1, 4, 16),
  writeOnPrefinish: fc.boolean(),
  ops: fc.array(opArb, { maxLength: 14 }),
});

function makeChunk(chunk: Chunk): unknown {
  switch (chunk.kind) {
    case 'string':
      return chunk.text;
    case 'buffer':
      return Buffer.from(chunk.bytes);
    case 'view': {
      const memory = new Uint8Array(chunk.bytes.length + chunk.offset + 2).fill(0xa5);
      memory.set(chunk.bytes, chunk.offset);
      return memory.subarray(chunk.offset, chunk.offset + chunk.bytes.length);
    }
    case 'typed': {
      const memory = new Uint8Array(chunk.bytes).buffer;
      return chunk.type === 'DataView' ? new DataView(memory) : new Uint16Array(memory);
    }
    case 'bad':
      return { number: 42, object: { a: 1 }, null: null, undefined }[chunk.value];
  }
}

function encodingArgs(encoding: Encoding): unknown[] {
  if (encoding === 'omit') return [];
  return [encoding === 'undefined' ? undefined : encoding];
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `non-error ${String(error)}`;
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}${code === undefined ? `: ${error.message}` : ''}`;
}

/** What a user sees of one stream: calls' results, state after each call, then callbacks and events in order. */
interface Seen {
  calls: string[];
  /** Callbacks and events, in the order they came. */
  order: string[];
  /** `end(cb)` calls made after destroy() (without an error, before any end()). */
  endsAfterDestroy: number;
  /** What their callbacks got, in any order: Node may never call them (docs/node-parity.md). */
  endedAfterDestroy: string[];
}

/**
 * When the worker writer's `_final` calls back: its `end()` waits for the
 * reader to take everything, in a later turn, or at once when nothing is
 * left. The plain Writable's `final` calls back at that same moment, so
 * the two differ only where a user could tell them apart.
 */
class FinalMirror {
  #done = false;
  #error: Error | null | undefined = undefined;
  #waiting: (() => void) | null = null;

  /** Wraps the worker writer's `_final`. */
  watch(stream: WorkerWritable): void {
    const final = stream._final.bind(stream);
    stream._final = (callback) =>
      final((error) => {
        // A final failed by this writer's own destroy(): the plain Writable
        // is destroyed by the same call of the program, its final left waiting.
        if (stream.destroyed) return callback(error);
        this.#done = true;
        this.#error = error;
        this.#waiting?.();
        callback(error);
      });
  }

  /** The plain Writable's `final`: calls back as the worker writer's did, with its error. */
  final = (callback: (error?: Error | null) => void): void => {
    if (this.#done) callback(this.#error);
    else this.#waiting = () => callback(this.#error);
  };
}

interface Pair {
  channel: WorkerChannel;
  worker: WorkerWritable;
  node: Writable;
  /** What the channel's reader and the plain Writable's sink received. */
  received: { worker: Buffer[]; node: Buffer[] };
}

function makePair(highWaterMark: number | undefined): Pair {
  const channel = new WorkerChannel({ size: 64 });
  const received: Pair['received'] = { worker: [], node: [] };
  channel.on('data', (batch: Buffer) => received.worker.push(batch));
  const options = highWaterMark === undefined ? {} : { highWaterMark };
  const worker = new WorkerWritable(channel.createWriter(), options);
  const mirror = new FinalMirror();
  mirror.watch(worker);
  const node = new Writable({
    ...options,
    write(chunk: Buffer, _encoding, callback) {
      received.node.push(chunk);
      callback();
    },
    writev(entries, callback) {
      for (const entry of entries) received.node.push(entry.chunk as Buffer);
      callback();
    },
    final: mirror.final,
  });
  return { channel, worker, node, received };
}

function state(stream: Writable): string {
  return [
    `length ${stream.writableLength}`,
    `needDrain ${stream.writableNeedDrain}`,
    `corked ${stream.writableCorked}`,
    `ended ${stream.writableEnded}`,
    `finished ${stream.writableFinished}`,
    `destroyed ${stream.destroyed}`,
    `errored ${stream.errored === null ? 'null' : describeError(stream.errored)}`,
  ].join(', ');
}

/** Applies one user call to one stream; what it returned or threw. */
function apply(stream: Writable, op: Exclude<Op, { op: 'wait' }>, writeId: number, seen: Seen): string {
  const note = (what: string) => (error?: Error | null) =>
    seen.order.push(`${what}(${error === undefined || error === null ? '' : describeError(error)})`);
  try {
    switch (op.op) {
      case 'write': {
        const callback =
          op.callback === 'none'
            ? []
            : op.callback === 'X' || op.callback === 'Y'
              ? [shared(seen, op.callback)]
              : op.callback === 'own'
                ? [note(`cb${writeId}`)]
                : [
                    (error?: Error | null) => {
                      note(`cb${writeId}`)(error);
                      // A callback that ends the stream, or writes again, from inside.
                      try {
                        const result =
                          op.callback === 'end'
                            ? (stream.end(), 'done')
                            : op.callback === 'write'
                              ? stream.write('z', note(`cb${writeId}.z`))
                              : stream.write(Buffer.from('y'));
                        seen.order.push(`${op.callback} in cb${writeId} -> ${result} | ${state(stream)}`);
                      } catch (thrown) {
                        seen.order.push(`${op.callback} in cb${writeId} threw ${describeError(thrown)}`);
                      }
                    },
                  ];
        const args = [makeChunk(op.chunk), ...encodingArgs(op.encoding), ...callback];
        return String((stream.write as (...a: unknown[]) => boolean)(...args));
      }
      case 'cork':
        stream.cork();
        return 'done';
      case 'uncork':
        stream.uncork();
        return 'done';
      case 'setDefaultEncoding':
        stream.setDefaultEncoding(...(encodingArgs(op.encoding) as [BufferEncoding]));
        return 'done';
      case 'end': {
        const afterDestroy =
          op.callback && stream.destroyed && stream.errored === null && !stream.writableEnded;
        const callback = afterDestroy
          ? (error?: Error | null) => seen.endedAfterDestroy.push(describeError(error))
          : note('end');
        (stream.end as (...a: unknown[]) => Writable)(
          ...(op.chunk === null ? [] : [makeChunk(op.chunk)]),
          ...(op.callback ? [callback] : []),
        );
        if (afterDestroy) seen.endsAfterDestroy++;
        return 'done';
      }
      case 'destroy':
        stream.destroy(op.error ? new Error('boom') : undefined);
        return 'done';
    }
  } catch (error) {
    return `threw ${describeError(error)}`;
  }
}

/** The two shared callbacks, X and Y, one pair per stream. */
const sharedCallbacks = new WeakMap<Seen, Record<'X' | 'Y', (error?: Error | null) => void>>();
function shared(seen: Seen, name: 'X' | 'Y'): (error?: Error | null) => void {
  let pair = sharedCallbacks.get(seen);
  if (pair === undefined) {
    const make = (what: string) => (error?: Error | null) =>
      seen.order.push(`${what}(${error === undefined || error === null ? '' : describeError(error)})`);
    pair = { X: make('X'), Y: make('Y') };
    sharedCallbacks.set(seen, pair);
  }
  return pair[name];
}

function watch(stream: Writable, writeOnPrefinish: boolean): { seen: Seen; closed: Promise<unknown> } {
  const seen: Seen = { calls: [], order: [], endsAfterDestroy: 0, endedAfterDestroy: [] };
  for (const event of ['drain', 'prefinish', 'finish', 'close'] as const)
    stream.on(event, () => seen.order.push(event));
  if (writeOnPrefinish) {
    stream.on('prefinish', () => {
      try {
        seen.order.push(`write on prefinish -> ${stream.write(Buffer.from('p'))} | ${state(stream)}`);
      } catch (error) {
        seen.order.push(`write on prefinish threw ${describeError(error)}`);
      }
    });
  }
  stream.on('error', (error) => seen.order.push(`error ${describeError(error)}`));
  return { seen, closed: once(stream, 'close').catch(() => {}) };
}

/** Runs the program on both streams in lockstep: each call on one, then on the other, in the same turn. */
async function compareWithNode(program: Program): Promise<void> {
  const pair = makePair(program.highWaterMark);
  const channelEnded = once(pair.channel, 'end');
  try {
    const worker = watch(pair.worker, program.writeOnPrefinish);
    const node = watch(pair.node, program.writeOnPrefinish);
    let writes = 0;
    for (const op of program.ops) {
      if (op.op === 'wait') {
        await (op.hop === 'tick'
          ? new Promise((resolve) => process.nextTick(resolve))
          : op.hop === 'microtask'
            ? Promise.resolve()
            : new Promise((resolve) => setImmediate(resolve)));
        continue;
      }
      const id = writes;
      if (op.op === 'write') writes++;
      for (const [stream, { seen }] of [
        [pair.worker, worker],
        [pair.node, node],
      ] as const) {
        seen.calls.push(`${JSON.stringify(op)} -> ${apply(stream, op, id, seen)} | ${state(stream)}`);
      }
    }
    // Settle: end what is still open, then wait for the close both must reach.
    for (const [stream, { seen }] of [
      [pair.worker, worker],
      [pair.node, node],
    ] as const) {
      if (stream.writableEnded || stream.destroyed) continue;
      try {
        stream.end();
      } catch (error) {
        seen.order.push(`final end threw ${describeError(error)}`);
      }
    }
    await Promise.all([worker.closed, node.closed, channelEnded]);
    const show = (seen: Seen, bytes: Buffer[]): string =>
      [
        ...seen.calls,
        `then: ${seen.order.join(', ')}`,
        `bytes: ${Buffer.concat(bytes).toString('hex')}`,
      ].join('\n');
    // end(cb) after destroy(): ours calls back each, with ERR_STREAM_DESTROYED
    // (a tick after end()); Node calls back some, with the same.
    await new Promise((resolve) => setImmediate(resolve));
    const destroyedError = 'Error ERR_STREAM_DESTROYED';
    expect(worker.seen.endedAfterDestroy, 'WorkerWritable: end(cb) after destroy()').to.deep.equal(
      Array.from({ length: worker.seen.endsAfterDestroy }, () => destroyedError),
    );
    for (const got of node.seen.endedAfterDestroy) expect(got).to.equal(destroyedError);
    const ours = show(worker.seen, pair.received.worker);
    const theirs = show(node.seen, pair.received.node);
    if (ours !== theirs) {
      expect.fail(
        `program: ${JSON.stringify(program)}\n--- WorkerWritable:\n${ours}\n--- Writable:\n${theirs}`,
      );
    }
  } finally {
    pair.channel.destroy();
  }
}

describe("Node parity: WorkerWritable against Node's own Writable (writer on the reader's thread)", function () {
  this.timeout(60_000);

  it(`behaves as a plain Writable in ${RUNS} random programs`, async () => {
    await fc.assert(
      fc.asyncProperty(programArb, (program) => compareWithNode(program)),
      { seed: SEED, numRuns: RUNS },
    );
  });

  // Found by the programs above: destroy() failed an end() still waiting for
  // the reader from inside destroy(), so its callback came before the
  // callbacks of earlier writes.
  it('calls back end(cb) after the failed write that destroyed the stream, not from inside destroy()', () =>
    compareWithNode({
      highWaterMark: undefined,
      writeOnPrefinish: false,
      ops: [
        { op: 'write', chunk: { kind: 'buffer', bytes: [0] }, encoding: 'omit', callback: 'none' },
        { op: 'end', chunk: null, callback: true },
        { op: 'write', chunk: { kind: 'string', text: '' }, encoding: 'omit', callback: 'own' },
      ],
    }));

  // A write() from a 'prefinish' listener, which Node's end() may emit before
  // it returns (here: the reader has everything, so _final calls back at once).
  it("fails a write made from a 'prefinish' listener inside end() with ERR_STREAM_WRITE_AFTER_END", () =>
    compareWithNode({
      highWaterMark: undefined,
      writeOnPrefinish: true,
      ops: [{ op: 'end', chunk: null, callback: false }],
    }));

  it('calls back end(cb) after destroy() only once destroy() has returned, as a Writable whose final waits', async () => {
    const scenario = async (writer: Writable): Promise<string[]> => {
      const order: string[] = [];
      const closed = new Promise((resolve) => writer.on('close', resolve));
      writer.write('a');
      writer.end((error?: Error | null) => order.push(`end: ${describeError(error)}`));
      writer.on('error', () => order.push('error'));
      writer.destroy(new Error('boom'));
      order.push('destroy() returned');
      await closed;
      return order;
    };
    const channel = new WorkerChannel({ size: 64 });
    try {
      channel.resume();
      const ours = await scenario(new WorkerWritable(channel.createWriter()));
      const node = await scenario(
        new Writable({ write: (_chunk, _encoding, callback) => callback(), final() {} }),
      );
      expect(node).to.deep.equal(['destroy() returned', 'end: Error: boom', 'error']);
      expect(ours).to.deep.equal(node);
    } finally {
      channel.destroy();
    }
  });
  it('calls back end(cb) made after destroy() with ERR_STREAM_DESTROYED, where a plain Writable never calls it', async () => {
    const channel = new WorkerChannel({ size: 64 });
    try {
      channel.resume();
      const writer = new WorkerWritable(channel.createWriter());
      writer.destroy();
      // The callback gets the error, though Node's typings say `() => void`.
      const error = await new Promise((resolve) => writer.end(resolve as () => void));
      expect(error).to.include({ code: 'ERR_STREAM_DESTROYED' });
      // Node 20's own, for the record: the callback is kept and never called.
      const node = new Writable({ write: (_chunk, _encoding, callback) => callback() });
      node.destroy();
      let called = false;
      node.end(() => (called = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect(called).to.equal(false);
    } finally {
      channel.destroy();
    }
  });
});
