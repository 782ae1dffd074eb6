/**
 * Every option and method of both classes with each kind of bad input, and
 * what it gets: the rows of docs/bad-input.md. spec/bad-input.spec.ts runs
 * each row against each class it applies to; `npm run docs:bad-input`
 * renders the Markdown from the same rows, and a spec checks the committed
 * file matches, so the table and the behaviour cannot drift apart.
 *
 * A row's `act` does the bad thing through an `ActContext`: it builds the
 * stream (`make`, `construct`), registers what to watch (`callback()`,
 * `watch(promise)`), and names objects whose identity matters (`same`). A
 * synchronous throw from `act` is the outcome "throws".
 */
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';

export const FACES = ['BatchingWritable', 'AsyncBatchStream'] as const;
export type Face = (typeof FACES)[number];
export type Mode = 'bytes' | 'objects';

/** An error as the table states it: class and code, or "the same object as ...". */
export type ErrorShape = { class: string; code?: string } | { same: string };

/** What a bad input gets. `error`: the stream also emits 'error'. */
export type Outcome =
  | { throws: ErrorShape }
  | { rejects: ErrorShape; error?: boolean }
  | { resolves: true; error?: boolean }
  | { callback: ErrorShape | null; error?: boolean }
  | { accepted: true; error?: boolean }
  | { neverCalled: true }
  | { pending: true };

/** The stream under test: both classes' shared surface. */
export type Stream = (BatchingWritable<unknown> | AsyncBatchStream<unknown>) & {
  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean;
  writeV(chunks: unknown, callback?: unknown): boolean;
  end(...args: unknown[]): Stream;
};

export interface ActContext {
  readonly face: Face;
  readonly mode: Mode;
  /** A stream of this face and mode, `size` 4 unless `options` say otherwise; its 'error' events are watched. */
  make(options?: Record<string, unknown>): Stream;
  /**
   * `new Face({ size: 4, onBatch: noop, ...options })` in this mode (an option
   * set to MISSING is left out); throws what the constructor throws.
   */
  construct(options: Record<string, unknown>): unknown;
  /** `new Face(value)`, the options argument itself bad. */
  constructRaw(value: unknown): unknown;
  /** A callback whose call is the outcome. */
  callback(): (error?: unknown) => void;
  /** A promise whose settling is the outcome. */
  watch(promise: Promise<unknown>): void;
  /** Forgets the 'error' events so far: those of a setup step, not of the bad input. */
  forgetErrors(): void;
  /** Names `value`: an error identical to it is reported as "the same object as `label`". */
  same<T>(value: T, label: string): T;
  /** A chunk for this mode: bytes, or an item. */
  chunk(text?: string): Buffer | string;
}

export interface BadInputRow {
  /** The option or method, as the table's first column shows it. */
  where: string;
  /** The bad input, in words and code. */
  input: string;
  /** Classes it applies to; both unless stated. */
  faces?: readonly Face[];
  /** Modes it runs in; byte mode only unless stated (the outcome is the same in each). */
  modes?: readonly Mode[];
  /** What it gets: one outcome for every class, or one per class. */
  expect: Outcome | Partial<Record<Face, Outcome>>;
  /** Why, or what to do instead: the table's last column. */
  note?: string;
  act(context: ActContext): void | Promise<void>;
}

/** In `construct()` options: leave the option out altogether. */
export const MISSING = Symbol('missing option');

const typeError = (code = 'ERR_INVALID_ARG_TYPE'): ErrorShape => ({ class: 'TypeError', code });
const rangeError: ErrorShape = { class: 'RangeError', code: 'ERR_OUT_OF_RANGE' };
const destroyedError: ErrorShape = { class: 'Error', code: 'ERR_STREAM_DESTROYED' };
const writeAfterEnd: ErrorShape = { class: 'Error', code: 'ERR_STREAM_WRITE_AFTER_END' };
const BOTH_MODES: readonly Mode[] = ['bytes', 'objects'];

/** A consumer that fails: onBatch throwing `error` at its first batch. */
const failing = (error: unknown) => () => {
  throw error;
};

async function failedStream(context: ActContext): Promise<Stream> {
  const boom = context.same(new Error('boom'), 'the onBatch error');
  const stream = context.make({ onBatch: failing(boom) });
  stream.write(context.chunk());
  await stream.flush().catch(() => {});
  await new Promise((resolve) => setImmediate(resolve));
  context.forgetErrors();
  return stream;
}

async function finishedStream(context: ActContext): Promise<Stream> {
  const stream = context.make();
  await new Promise<void>((resolve) => stream.end(() => resolve()));
  await new Promise((resolve) => setImmediate(resolve));
  return stream;
}

function destroyedStream(context: ActContext): Stream {
  const stream = context.make();
  stream.destroy();
  return stream;
}

// ---- Constructor options ---------------------------------------------------------

const sizeRows: BadInputRow[] = [
  ['missing', { size: MISSING }],
  ['`undefined`', { size: undefined }],
  ['`null`', { size: null }],
  ["a string, `'10'`", { size: '10' }],
  ['a bigint, `10n`', { size: 10n }],
  ['a boolean, `true`', { size: true }],
  ['a boxed number, `new Number(10)`', { size: new Number(10) }],
  ['an array, `[10]`', { size: [10] }],
].map(([input, options]) => ({
  where: 'options.size',
  input: input as string,
  expect: { throws: typeError() },
  act: (c: ActContext) => void c.construct(options as Record<string, unknown>),
}));

const sizeRangeRows: BadInputRow[] = [
  ['`0`', 0],
  ['`-0`', -0],
  ['negative, `-1`', -1],
  ['fractional, `1.5`', 1.5],
  ['`NaN`', NaN],
  ['`Infinity`', Infinity],
  ['`-Infinity`', -Infinity],
  ['above the safe maximum, `2 ** 53`', 2 ** 53],
  ['huge, `1e300`', 1e300],
].map(([input, size]) => ({
  where: 'options.size',
  input: input as string,
  expect: { throws: rangeError },
  act: (c: ActContext) => void c.construct({ size }),
}));

const maxDelayRows: BadInputRow[] = [
  ...[
    ['`null`', null],
    ["a string, `'5'`", '5'],
    ['a bigint, `5n`', 5n],
    ['a boolean, `true`', true],
  ].map(([input, maxDelay]) => ({
    where: 'options.maxDelay',
    input: input as string,
    expect: { throws: typeError() },
    act: (c: ActContext) => void c.construct({ maxDelay }),
  })),
  ...[
    ['negative, `-1`', -1],
    ['`-Infinity`', -Infinity],
    ['`NaN`', NaN],
    ['finite above the timer limit, `2 ** 31`', 2 ** 31],
    ['huge, `1e300`', 1e300],
  ].map(([input, maxDelay]) => ({
    where: 'options.maxDelay',
    input: input as string,
    expect: { throws: rangeError },
    act: (c: ActContext) => void c.construct({ maxDelay }),
  })),
  {
    where: 'options.maxDelay',
    input: '`Infinity`',
    expect: { accepted: true },
    note: "Allowed: only full batches, flush() and end() hand data over (the Go library's Buffer).",
    act: (c) => void c.construct({ maxDelay: Infinity }),
  },
  {
    where: 'options.maxDelay',
    input: 'the timer limit, `2 ** 31 - 1`',
    expect: { accepted: true },
    act: (c) => void c.construct({ maxDelay: 2 ** 31 - 1 }),
  },
  {
    where: 'options.maxDelay',
    input: 'fractional, `0.5`',
    expect: { accepted: true },
    note: 'Milliseconds, as setTimeout takes them.',
    act: (c) => void c.construct({ maxDelay: 0.5 }),
  },
  {
    where: 'options.maxDelay',
    input: '`undefined`',
    expect: { accepted: true },
    note: 'The default, 0.',
    act: (c) => void c.construct({ maxDelay: undefined }),
  },
];

/** `maxBytes` and `sizeOf` (docs/semantics.md 22): object mode only, each needing the other. */
const weigh = (item: unknown): number => String(item).length;
const weightRows: BadInputRow[] = [
  {
    where: 'options.maxBytes',
    input: 'in byte mode, `100` (with `sizeOf`)',
    expect: { throws: typeError('ERR_INVALID_ARG_VALUE') },
    note: 'Object mode only: a byte batch is bounded by size already.',
    act: (c) => void c.construct({ maxBytes: 100, sizeOf: weigh }),
  },
  {
    where: 'options.maxBytes',
    input: 'without `sizeOf`',
    modes: ['objects'],
    expect: { throws: typeError('ERR_MISSING_ARGS') },
    act: (c) => void c.construct({ maxBytes: 100 }),
  },
  ...[
    ["a string, `'100'`", '100'],
    ['`null`', null],
  ].map(([input, maxBytes]) => ({
    where: 'options.maxBytes',
    input: input as string,
    modes: ['objects'] as const,
    expect: { throws: typeError() },
    act: (c: ActContext) => void c.construct({ maxBytes, sizeOf: weigh }),
  })),
  ...[
    ['`0`', 0],
    ['fractional, `1.5`', 1.5],
    ['`Infinity`', Infinity],
  ].map(([input, maxBytes]) => ({
    where: 'options.maxBytes',
    input: input as string,
    modes: ['objects'] as const,
    expect: { throws: rangeError },
    act: (c: ActContext) => void c.construct({ maxBytes, sizeOf: weigh }),
  })),
  {
    where: 'options.sizeOf',
    input: 'without `maxBytes`',
    modes: ['objects'],
    expect: { throws: typeError('ERR_MISSING_ARGS') },
    act: (c) => void c.construct({ sizeOf: weigh }),
  },
  {
    where: 'options.sizeOf',
    input: 'not a function, `1`',
    modes: ['objects'],
    expect: { throws: typeError() },
    act: (c) => void c.construct({ maxBytes: 100, sizeOf: 1 }),
  },
  {
    where: 'options.sizeOf',
    input: 'returns `-1` for an item written',
    modes: ['objects'],
    expect: { callback: typeError('ERR_INVALID_RETURN_VALUE'), error: true },
    note: 'The stream is destroyed with that error; the item is in no batch.',
    act: (c) => {
      const stream = c.make({ maxBytes: 100, sizeOf: () => -1 });
      stream.write(c.chunk(), c.callback());
    },
  },
];

/** `concurrency` (docs/semantics.md 23): BatchingWritable only. */
const concurrencyRows: BadInputRow[] = [
  ...[
    ["a string, `'4'`", '4'],
    ['`null`', null],
  ].map(([input, concurrency]) => ({
    where: 'options.concurrency',
    input: input as string,
    faces: ['BatchingWritable'] as const,
    expect: { throws: typeError() },
    act: (c: ActContext) => void c.construct({ concurrency }),
  })),
  ...[
    ['`0`', 0],
    ['fractional, `1.5`', 1.5],
    ['`Infinity`', Infinity],
  ].map(([input, concurrency]) => ({
    where: 'options.concurrency',
    input: input as string,
    faces: ['BatchingWritable'] as const,
    expect: { throws: rangeError },
    act: (c: ActContext) => void c.construct({ concurrency }),
  })),
  {
    where: 'options.concurrency',
    input: 'any, even `1`',
    faces: ['AsyncBatchStream'],
    expect: { throws: typeError('ERR_INVALID_ARG_VALUE') },
    note: 'Downstream reads an AsyncBatchStream one batch at a time.',
    act: (c) => void c.construct({ concurrency: 1 }),
  },
];

const optionsRows: BadInputRow[] = [
  ...[
    ['missing: `new X()`', undefined],
    ['`null`', null],
    ['a number, `42`', 42],
    ["a string, `'size'`", 'size'],
  ].map(([input, value]) => ({
    where: 'options',
    input: input as string,
    expect: { throws: typeError() },
    act: (c: ActContext) => void c.constructRaw(value),
  })),
  ...sizeRows,
  ...sizeRangeRows,
  {
    where: 'options.size',
    input: 'the safe maximum, `Number.MAX_SAFE_INTEGER`',
    expect: { callback: null },
    note: 'Nothing is allocated up front: a batch grows with what is written.',
    act: (c) => {
      const stream = c.make({ size: Number.MAX_SAFE_INTEGER });
      stream.write(c.chunk(), c.callback());
    },
  },
  ...maxDelayRows,
  ...[
    ["a string, `'yes'`", 'yes'],
    ['a number, `1`', 1],
    ['`null`', null],
  ].map(([input, objectMode]) => ({
    where: 'options.objectMode',
    input: input as string,
    expect: { throws: typeError() },
    act: (c: ActContext) => void c.construct({ objectMode }),
  })),
  ...weightRows,
  ...concurrencyRows,
  ...[
    ['missing', MISSING],
    ['`null`', null],
    ["a string, `'fn'`", 'fn'],
    ['an object, `{}`', {}],
    ['a number, `1`', 1],
  ].map(([input, onBatch]) => ({
    where: 'options.onBatch',
    input: input as string,
    faces: ['BatchingWritable'] as const,
    expect: { throws: typeError() },
    act: (c: ActContext) => void c.construct({ onBatch }),
  })),
  ...[
    ['negative, `-1`', -1],
    ['`NaN`', NaN],
    ["a string, `'5'`", '5'],
    ['fractional, `1.5`', 1.5],
    ['`Infinity`', Infinity],
  ].map(([input, highWaterMark]) => ({
    where: 'options.highWaterMark',
    input: input as string,
    expect: { throws: typeError('ERR_INVALID_ARG_VALUE') },
    note: "Node's own check.",
    act: (c: ActContext) => void c.construct({ highWaterMark }),
  })),
  {
    where: 'options.highWaterMark',
    input: 'huge, `2 ** 53`',
    expect: { accepted: true },
    note: 'Allowed, as by Node: backpressure then never starts; memory is yours to bound.',
    act: (c) => void c.construct({ highWaterMark: 2 ** 53 }),
  },
  {
    where: 'options.writableHighWaterMark',
    input: 'negative, `-1`',
    expect: {
      BatchingWritable: { accepted: true },
      AsyncBatchStream: { throws: typeError('ERR_INVALID_ARG_VALUE') },
    },
    note: 'A plain Writable ignores writableHighWaterMark (a Duplex option); set highWaterMark.',
    act: (c) => void c.construct({ writableHighWaterMark: -1 }),
  },
  {
    where: 'options.readableHighWaterMark',
    input: 'negative, `-1`',
    faces: ['AsyncBatchStream'],
    expect: { throws: typeError('ERR_INVALID_ARG_VALUE') },
    act: (c) => void c.construct({ readableHighWaterMark: -1 }),
  },
  {
    where: 'options.signal',
    input: 'not an AbortSignal, `{}`',
    expect: { throws: typeError() },
    note: "Node's own check.",
    act: (c) => void c.construct({ signal: {} }),
  },
  {
    where: 'options.defaultEncoding',
    input: "unknown, `'nope'`",
    expect: { throws: typeError('ERR_UNKNOWN_ENCODING') },
    act: (c) => void c.construct({ defaultEncoding: 'nope' }),
  },
];

// ---- onBatch's behaviour (BatchingWritable) ------------------------------------------

const onBatchRows: BadInputRow[] = [
  {
    where: 'onBatch returns',
    input: 'a non-Error thrown, `throw "x"`',
    faces: ['BatchingWritable'],
    expect: { rejects: { class: 'Error', code: 'ERR_MWSR_NON_ERROR' }, error: true },
    note: "flush() shown; the value is the Error's cause.",
    act: (c) => {
      const stream = c.make({ onBatch: failing('x') });
      stream.write(c.chunk());
      c.watch(stream.flush());
    },
  },
  {
    where: 'onBatch returns',
    input: 'a promise rejected with `undefined`',
    faces: ['BatchingWritable'],
    expect: { rejects: { class: 'Error', code: 'ERR_MWSR_NON_ERROR' }, error: true },
    act: (c) => {
      const stream = c.make({ onBatch: () => Promise.reject(undefined) });
      stream.write(c.chunk());
      c.watch(stream.flush());
    },
  },
  {
    where: 'onBatch returns',
    input: 'a promise that never settles',
    faces: ['BatchingWritable'],
    expect: { pending: true },
    note: 'By design (semantics 4): nothing more is handed over. destroy() settles flush() and every callback.',
    act: (c) => {
      const stream = c.make({ onBatch: () => new Promise(() => {}) });
      stream.write(c.chunk());
      c.watch(stream.flush());
    },
  },
  {
    where: 'onBatch returns',
    input: 'a thenable whose `then` throws',
    faces: ['BatchingWritable'],
    expect: { rejects: { same: 'the error `then` threw' }, error: true },
    note: 'As a rejection (semantics 10), like `await` would treat it.',
    act: (c) => {
      const thrown = c.same(new Error('then threw'), 'the error `then` threw');
      const stream = c.make({
        onBatch: () => ({
          then() {
            throw thrown;
          },
        }),
      });
      stream.write(c.chunk());
      c.watch(stream.flush());
    },
  },
  {
    where: 'onBatch returns',
    input: 'an object whose `then` getter throws',
    faces: ['BatchingWritable'],
    expect: { rejects: { same: 'the error the getter threw' }, error: true },
    note: 'As a rejection, like `await` would treat it.',
    act: (c) => {
      const thrown = c.same(new Error('getter threw'), 'the error the getter threw');
      const stream = c.make({
        onBatch: () => ({
          get then(): never {
            throw thrown;
          },
        }),
      });
      stream.write(c.chunk());
      c.watch(stream.flush());
    },
  },
  {
    where: 'onBatch returns',
    input: 'a thenable that fulfils twice',
    faces: ['BatchingWritable'],
    expect: { resolves: true },
    note: 'The second call is ignored: onBatch is never entered again before the batch out settled (semantics 4).',
    act: (c) => {
      let active = 0;
      let reentered = false;
      const stream = c.make({
        size: 1,
        objectMode: true,
        onBatch: () => {
          if (active > 0) reentered = true;
          active++;
          return {
            then(fulfil: () => void) {
              setImmediate(() => {
                active--;
                fulfil();
                setImmediate(fulfil);
              });
            },
          };
        },
      });
      for (const item of 'abcdef') stream.write(item);
      c.watch(
        stream.flush().then(() => {
          if (reentered) throw new Error('onBatch was entered while a batch was out');
        }),
      );
    },
  },
];

// ---- write() ---------------------------------------------------------------------------

const writeRows: BadInputRow[] = [
  {
    where: 'write(chunk)',
    input: '`null`',
    modes: BOTH_MODES,
    expect: { throws: typeError('ERR_STREAM_NULL_VALUES') },
    act: (c) => void c.make().write(null),
  },
  ...[
    ['`undefined`', undefined],
    ['a number, `42`', 42],
    ['a boolean, `true`', true],
    ['a plain object, `{}`', {}],
    ['an `ArrayBuffer`', new ArrayBuffer(4)],
  ].map(([input, chunk]) => ({
    where: 'write(chunk)',
    input: `${input as string} (byte mode)`,
    expect: { throws: typeError() },
    note: 'As a plain Writable.',
    act: (c: ActContext) => void c.make().write(chunk),
  })),
  {
    where: 'write(chunk)',
    input: '`undefined` (object mode)',
    modes: ['objects'],
    expect: { callback: null },
    note: 'Any value but null is an item (semantics, Words).',
    act: (c) => void c.make().write(undefined, c.callback()),
  },
  {
    where: 'write(chunk)',
    input: 'a typed array other than Uint8Array, `new Int16Array(2)` (byte mode)',
    expect: { callback: null },
    note: 'Node 20 takes any ArrayBufferView as its bytes.',
    act: (c) => void c.make().write(new Int16Array(2), c.callback()),
  },
  {
    where: 'write(chunk)',
    input: 'huge: 16 MiB with `size` 4 (byte mode)',
    expect: { callback: null },
    note: 'Handed over alone, whole (semantics 3).',
    act: (c) => void c.make().write(Buffer.alloc(16 * 2 ** 20), c.callback()),
  },
  {
    where: 'write(chunk, encoding)',
    input: "a string with an unknown encoding, `'nope'`",
    expect: { throws: typeError('ERR_UNKNOWN_ENCODING') },
    act: (c) => void c.make().write('abc', 'nope'),
  },
  {
    where: 'write(chunk, encoding)',
    input: "a Buffer with an unknown encoding, `'nope'`",
    expect: { throws: typeError('ERR_UNKNOWN_ENCODING') },
    note: 'As a plain Writable, which checks the encoding whatever the chunk.',
    act: (c) => void c.make().write(Buffer.from('abc'), 'nope'),
  },
  {
    where: 'write(chunk, encoding)',
    input: 'a number as encoding, `123`',
    expect: { throws: typeError('ERR_UNKNOWN_ENCODING') },
    act: (c) => void c.make().write('abc', 123),
  },
  {
    where: 'write(chunk, encoding, callback)',
    input: "a callback that is not a function, `'x'`",
    modes: BOTH_MODES,
    expect: { accepted: true },
    note: 'Ignored, as by a plain Writable.',
    act: (c) => void c.make().write(c.chunk(), 'utf8', 'x'),
  },
  {
    where: 'write()',
    input: 'after end()',
    modes: BOTH_MODES,
    expect: { callback: writeAfterEnd, error: true },
    note: "Node's rule: this destroys the stream, and what was pending is lost. Do not write after end().",
    act: (c) => {
      const stream = c.make();
      stream.end();
      stream.write(c.chunk(), c.callback());
    },
  },
  {
    where: 'write()',
    input: 'after destroy()',
    modes: BOTH_MODES,
    expect: { callback: destroyedError },
    act: (c) => void destroyedStream(c).write(c.chunk(), c.callback()),
  },
  {
    where: 'write()',
    input: 'after onBatch failed',
    faces: ['BatchingWritable'],
    expect: { callback: destroyedError },
    note: "Node's error for a destroyed stream; 'error' and flush() carry the onBatch error.",
    act: async (c) => void (await failedStream(c)).write(c.chunk(), c.callback()),
  },
];

// ---- writeV() ----------------------------------------------------------------------------

const writeVRows: BadInputRow[] = [
  ...[
    ['`undefined`', undefined],
    ['`null`', null],
    ["a string, `'abc'`", 'abc'],
    ["a Set, `new Set(['a'])`", new Set(['a'])],
    ["an array-like, `{ length: 1, 0: 'a' }`", { length: 1, 0: 'a' }],
  ].map(([input, chunks]) => ({
    where: 'writeV(chunks)',
    input: input as string,
    modes: BOTH_MODES,
    expect: { throws: typeError() },
    act: (c: ActContext) => void c.make().writeV(chunks),
  })),
  {
    where: 'writeV(chunks)',
    input: "a `null` chunk, `['a', null]`",
    modes: BOTH_MODES,
    expect: { throws: typeError('ERR_STREAM_NULL_VALUES') },
    note: 'Nothing of the group is written.',
    act: (c) => void c.make().writeV([c.chunk(), null]),
  },
  {
    where: 'writeV(chunks)',
    input: "a number chunk, `['a', 42]` (byte mode)",
    expect: { throws: typeError() },
    note: 'The error write(42) throws; nothing of the group is written.',
    act: (c) => void c.make().writeV(['a', 42]),
  },
  {
    where: 'writeV(chunks)',
    input: "a hole, `[, 'a']` (byte mode)",
    expect: { throws: typeError() },
    note: 'A hole is `undefined`.',
    // eslint-disable-next-line no-sparse-arrays
    act: (c) => void c.make().writeV([, 'a']),
  },
  {
    where: 'writeV(chunks)',
    input: 'a typed array other than Uint8Array, `[new Int16Array(2)]` (byte mode)',
    expect: { callback: null },
    note: 'What write() takes, writeV() takes (semantics 11).',
    act: (c) => void c.make().writeV([new Int16Array(2), 'a'], c.callback()),
  },
  {
    where: 'writeV(chunks, callback)',
    input: "a callback that is not a function, `'x'`",
    modes: BOTH_MODES,
    expect: { throws: typeError() },
    act: (c) => void c.make().writeV([c.chunk()], 'x'),
  },
  {
    where: 'writeV(chunks)',
    input: 'empty, `[]`',
    modes: BOTH_MODES,
    expect: { callback: null },
    note: 'A no-op that still calls back (semantics 7).',
    act: (c) => void c.make().writeV([], c.callback()),
  },
  {
    where: 'writeV(chunks)',
    input: 'huge: 100,000 chunks with `size` 4',
    modes: BOTH_MODES,
    expect: { callback: null },
    note: 'Placed chunk by chunk, in order, unbroken by other writes.',
    act: (c) =>
      void c.make().writeV(
        Array.from({ length: 100_000 }, () => c.chunk('x')),
        c.callback(),
      ),
  },
  {
    where: 'writeV()',
    input: 'after end()',
    modes: BOTH_MODES,
    expect: { callback: writeAfterEnd, error: true },
    note: 'As write() after end().',
    act: (c) => {
      const stream = c.make();
      stream.end();
      stream.writeV([c.chunk(), c.chunk()], c.callback());
    },
  },
  {
    where: 'writeV()',
    input: 'empty, `[]`, after end()',
    expect: { callback: writeAfterEnd, error: true },
    act: (c) => {
      const stream = c.make();
      stream.end();
      stream.writeV([], c.callback());
    },
  },
  {
    where: 'writeV()',
    input: 'after destroy()',
    modes: BOTH_MODES,
    expect: { callback: destroyedError },
    act: (c) => void destroyedStream(c).writeV([c.chunk(), c.chunk()], c.callback()),
  },
  {
    where: 'writeV()',
    input: 'empty, `[]`, after destroy()',
    expect: { callback: destroyedError },
    act: (c) => void destroyedStream(c).writeV([], c.callback()),
  },
];

// ---- flush(), ready(), end(), destroy(), the rest ----------------------------------------

const lifecycleRows: BadInputRow[] = [
  {
    where: 'flush()',
    input: 'after destroy()',
    expect: { rejects: destroyedError },
    act: (c) => c.watch(destroyedStream(c).flush()),
  },
  {
    where: 'flush()',
    input: 'after destroy(error)',
    expect: { rejects: { same: 'the destroy() error' }, error: true },
    act: (c) => {
      const stream = c.make();
      stream.destroy(c.same(new Error('gone'), 'the destroy() error'));
      c.watch(stream.flush());
    },
  },
  {
    where: 'flush()',
    input: "after destroy() with a non-Error, `destroy('x')`",
    expect: { rejects: { same: 'the value given to destroy(), as is' }, error: true },
    note: 'destroy() passes its argument on as Node does; only onBatch failures are wrapped.',
    act: (c) => {
      const stream = c.make();
      stream.destroy(c.same('x', 'the value given to destroy(), as is') as never);
      c.watch(stream.flush());
    },
  },
  {
    where: 'flush()',
    input: 'after onBatch failed',
    faces: ['BatchingWritable'],
    expect: { rejects: { same: 'the onBatch error' } },
    act: async (c) => c.watch((await failedStream(c)).flush()),
  },
  {
    where: 'flush()',
    input: "after end(), before 'finish'",
    modes: BOTH_MODES,
    expect: { resolves: true },
    act: (c) => {
      const stream = c.make();
      stream.write(c.chunk());
      stream.end();
      c.watch(stream.flush());
    },
  },
  {
    where: 'flush()',
    input: "after 'finish' (the stream auto-destroyed)",
    expect: { resolves: true },
    note: "Nothing is pending after 'finish' (semantics 8), though autoDestroy (the default) has destroyed the stream.",
    act: async (c) => c.watch((await finishedStream(c)).flush()),
  },
  {
    where: 'flush()',
    input: 'with arguments, `flush(123)`',
    expect: { resolves: true },
    note: 'Ignored.',
    act: (c) => {
      const stream = c.make();
      c.watch(Reflect.apply(stream.flush, stream, [123]) as Promise<void>);
    },
  },
  {
    where: 'ready()',
    input: 'after end()',
    expect: { rejects: writeAfterEnd },
    act: (c) => {
      const stream = c.make();
      stream.end();
      c.watch(stream.ready());
    },
  },
  {
    where: 'ready()',
    input: 'after destroy()',
    expect: { rejects: destroyedError },
    act: (c) => c.watch(destroyedStream(c).ready()),
  },
  {
    where: 'end()',
    input: "twice, before 'finish'",
    expect: { callback: null },
    note: "The second callback is called at 'finish', as by a plain Writable.",
    act: (c) => {
      const stream = c.make();
      stream.end();
      stream.end(c.callback());
    },
  },
  {
    where: 'end()',
    input: "after 'finish'",
    expect: { callback: { class: 'Error', code: 'ERR_STREAM_ALREADY_FINISHED' } },
    act: async (c) => void (await finishedStream(c)).end(c.callback()),
  },
  {
    where: 'end()',
    input: 'after destroy()',
    expect: { callback: destroyedError },
    note: "Node 20's own Writable may never call it (docs/node-parity.md); ours always does.",
    act: (c) => void destroyedStream(c).end(c.callback()),
  },
  {
    where: 'end(chunk)',
    input: '`null`',
    expect: { callback: null },
    note: 'As end().',
    act: (c) => void c.make().end(null, c.callback()),
  },
  {
    where: 'end(chunk)',
    input: 'a number, `5` (byte mode)',
    expect: { throws: typeError() },
    act: (c) => void c.make().end(5),
  },
  {
    where: 'end(chunk)',
    input: 'after end()',
    expect: { callback: writeAfterEnd, error: true },
    act: (c) => {
      const stream = c.make();
      stream.end();
      stream.end(c.chunk(), c.callback());
    },
  },
  {
    where: 'destroy()',
    input: 'twice, `destroy(a); destroy(b)`',
    expect: { rejects: { same: 'the first error' }, error: true },
    note: "The first error sticks: 'error' once, flush() shown.",
    act: (c) => {
      const stream = c.make();
      stream.destroy(c.same(new Error('first'), 'the first error'));
      stream.destroy(new Error('second'));
      c.watch(stream.flush());
    },
  },
  {
    where: '[Symbol.asyncDispose]()',
    input: 'after destroy()',
    expect: { resolves: true },
    note: 'A destroyed stream is left as it is.',
    act: (c) => c.watch(destroyedStream(c)[Symbol.asyncDispose]()),
  },
  {
    where: 'setDefaultEncoding()',
    input: "unknown, `'nope'`",
    expect: { throws: typeError('ERR_UNKNOWN_ENCODING') },
    act: (c) => void c.make().setDefaultEncoding('nope' as BufferEncoding),
  },
];

export const BAD_INPUT_ROWS: readonly BadInputRow[] = [
  ...optionsRows,
  ...onBatchRows,
  ...writeRows,
  ...writeVRows,
  ...lifecycleRows,
];

// ---- Running a row -------------------------------------------------------------------------

/** How long a callback or promise may take before it counts as never called / pending. */
const SETTLE_MS = 150;

function makeStream(face: Face, mode: Mode, options: Record<string, unknown>): Stream {
  const objectMode = mode === 'objects';
  if (face === 'BatchingWritable') {
    return objectMode
      ? new BatchingWritable({ size: 4, objectMode, onBatch: () => {}, ...options })
      : new BatchingWritable({ size: 4, onBatch: () => {}, ...options });
  }
  const stream = objectMode
    ? new AsyncBatchStream({ size: 4, objectMode, ...options })
    : new AsyncBatchStream({ size: 4, ...options });
  stream.resume(); // downstream reads everything at once
  return stream;
}

function constructFace(face: Face, options: unknown): unknown {
  return face === 'BatchingWritable'
    ? new BatchingWritable(options as never)
    : new AsyncBatchStream(options as never);
}

function shapeOf(error: unknown, named: ReadonlyMap<unknown, string>): ErrorShape {
  const label = named.get(error);
  if (label !== undefined) return { same: label };
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { class: error.constructor.name, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { class: `a non-Error (${typeof error})` };
}

/** Runs `row` against `face` in `mode` and says what it got, as an Outcome. */
export async function observe(row: BadInputRow, face: Face, mode: Mode): Promise<Outcome> {
  const named = new Map<unknown, string>();
  const streams: Stream[] = [];
  const errorEvents: unknown[] = [];
  let callbackState: { called: boolean; error: unknown } | null = null;
  let watched: Promise<unknown> | null = null;
  const context: ActContext = {
    face,
    mode,
    make(options = {}) {
      const stream = makeStream(face, mode, options);
      stream.on('error', (error) => errorEvents.push(error));
      streams.push(stream);
      return stream;
    },
    construct(options) {
      const objectMode = mode === 'objects' ? { objectMode: true } : {};
      const base =
        face === 'BatchingWritable'
          ? { size: 4, onBatch: () => {}, ...objectMode }
          : { size: 4, ...objectMode };
      const merged: Record<string, unknown> = { ...base, ...options };
      for (const key of Object.keys(merged)) if (merged[key] === MISSING) delete merged[key];
      return constructFace(face, merged);
    },
    constructRaw(value) {
      return constructFace(face, value);
    },
    callback() {
      const state = { called: false, error: undefined as unknown };
      callbackState = state;
      return (error?: unknown) => {
        state.called = true;
        state.error = error;
      };
    },
    watch(promise) {
      watched = promise;
    },
    forgetErrors() {
      errorEvents.length = 0;
    },
    same(value, label) {
      named.set(value, label);
      return value;
    },
    chunk(text = 'a') {
      return mode === 'bytes' ? Buffer.from(text) : text;
    },
  };
  let acted: void | Promise<void>;
  try {
    acted = row.act(context);
  } catch (error) {
    for (const stream of streams) stream.destroy();
    return { throws: shapeOf(error, named) };
  }
  await acted;
  let outcome: Outcome;
  const promise = watched as Promise<unknown> | null;
  if (promise !== null) {
    const settled = await Promise.race([
      promise.then(
        () => ({ resolved: true as const }),
        (error: unknown) => ({ rejected: error }),
      ),
      new Promise<null>((resolve) => setTimeout(resolve, SETTLE_MS, null)),
    ]);
    if (settled === null) outcome = { pending: true };
    else if ('resolved' in settled) outcome = { resolves: true };
    else outcome = { rejects: shapeOf(settled.rejected, named) };
  } else if (callbackState !== null) {
    const state = callbackState as { called: boolean; error: unknown };
    const deadline = Date.now() + SETTLE_MS;
    while (!state.called && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    if (!state.called) outcome = { neverCalled: true };
    else outcome = { callback: state.error ? shapeOf(state.error, named) : null };
  } else {
    outcome = { accepted: true };
  }
  // Let 'error' (emitted on a later tick) arrive.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  if (
    errorEvents.length > 0 &&
    !('throws' in outcome) &&
    !('neverCalled' in outcome) &&
    !('pending' in outcome)
  ) {
    outcome = { ...outcome, error: true };
  }
  for (const stream of streams) if (!stream.destroyed) stream.destroy();
  return outcome;
}

/** The outcome `row` promises for `face`, or null if it does not apply. */
export function expectedFor(row: BadInputRow, face: Face): Outcome | null {
  if (row.faces && !row.faces.includes(face)) return null;
  const expect = row.expect as Record<string, unknown>;
  if (face in expect) return expect[face] as Outcome;
  if (FACES.some((f) => f in expect)) return null;
  return row.expect as Outcome;
}

// ---- Rendering -----------------------------------------------------------------------------

function renderError(shape: ErrorShape): string {
  if ('same' in shape) return `${shape.same} (the same object)`;
  return shape.code ? `\`${shape.class}\` \`${shape.code}\`` : `\`${shape.class}\``;
}

/** One outcome in words, as the table cell and the spec's comparison use it. */
export function renderOutcome(outcome: Outcome | null): string {
  if (outcome === null) return '—';
  const error = 'error' in outcome && outcome.error ? "; emits `'error'`" : '';
  if ('throws' in outcome) return `throws ${renderError(outcome.throws)}`;
  if ('rejects' in outcome) return `rejects with ${renderError(outcome.rejects)}${error}`;
  if ('resolves' in outcome) return `resolves${error}`;
  if ('callback' in outcome) {
    return outcome.callback === null
      ? `accepted: callback without error${error}`
      : `callback gets ${renderError(outcome.callback)}${error}`;
  }
  if ('accepted' in outcome) return `accepted${error}`;
  if ('neverCalled' in outcome) return 'callback never called';
  return 'stays pending';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** docs/bad-input.md, rendered from BAD_INPUT_ROWS. */
export function renderBadInputMarkdown(): string {
  const lines = [
    '# Bad input: what each option and method gets',
    '',
    '<!-- Generated by `npm run docs:bad-input` from spec/support/bad-input-table.ts. Do not edit:',
    '     spec/bad-input.spec.ts runs every row against both classes and checks this file is current. -->',
    '',
    'Every option and method of `BatchingWritable` and `AsyncBatchStream`, with each kind of bad',
    'input and what it gets. "throws" is synchronous, at the call; "callback gets" is the write or end',
    "callback; \"emits `'error'`\" means the stream is destroyed with that error too. Errors carry Node's",
    'classes and codes (semantics 11); where Node has its own error for a case, ours is the same. A row',
    'marked for byte mode behaves alike in object mode unless a row says otherwise. "—": does not apply.',
    '"semantics N" is rule N of [semantics.md](semantics.md).',
    '',
    'Each row is a spec: in the repository, `spec/bad-input.spec.ts` runs it against each class it applies to.',
    '',
    '| Where | Bad input | BatchingWritable | AsyncBatchStream | Note |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const row of BAD_INPUT_ROWS) {
    const modes = row.modes ?? ['bytes'];
    const input = modes.length === 2 ? `${row.input} (both modes)` : row.input;
    lines.push(
      `| \`${cell(row.where)}\` | ${cell(input)} | ${cell(renderOutcome(expectedFor(row, 'BatchingWritable')))} | ` +
        `${cell(renderOutcome(expectedFor(row, 'AsyncBatchStream')))} | ${cell(row.note ?? '')} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
