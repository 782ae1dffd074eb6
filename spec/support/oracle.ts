/**
 * A differential oracle: one program of user actions runs against our class
 * (BatchingWritable, or AsyncBatchStream with its readable side read) and,
 * side by side, against Node's own stream (a plain `Writable`, or a plain
 * `Transform`) whose sink records what it is handed and calls back at once.
 * What a user can observe is compared. One runner (`runProgram`), one
 * comparison (`compare`); docs/node-parity.md says the same for users.
 *
 * Compared exactly:
 * - the bytes (byte mode) or items (object mode) delivered, concatenated;
 * - one trace, in order, of write callbacks and end callbacks (by function,
 *   with their argument: null, an error code, or the user's own error
 *   object), 'error', 'finish', 'close', and actions taken inside callbacks
 *   or the sink;
 * - in call order: errors thrown by a call (class and code), and write()'s
 *   return value where the contract fixes it (false on an ended, destroyed
 *   or errored stream; true while everything ever written is below
 *   highWaterMark);
 * - `writableEnded`, `writableFinished`, `writableCorked`, `destroyed`,
 *   `errored`, `closed`, `writableAborted` (and a Transform's `readableEnded`) after each stretch of
 *   synchronous calls and each wait, after the program, and again after a
 *   closing `end()` (not while ours holds a write callback for the drain:
 *   that callback's own calls come later by design, see below).
 * On our class only: every `flush()`, `ready()` and `[Symbol.asyncDispose]()`
 * settles once the stream has finished or closed (a bounded wait, then),
 * and 'drain' comes only after a write() returned false.
 *
 * Deliberate differences, not compared or compared loosely:
 * - how chunks are grouped into batches (only the concatenation counts);
 * - backpressure: write() returns false once `size` + `highWaterMark` are
 *   pending, not at `highWaterMark`, that write's callback waits for the
 *   'drain', and 'drain' follows that limit. So 'drain' is not compared; a
 *   held callback failed by a destroy() is not a difference where Node had
 *   called it back with null (excuseHeldFailures); and when a callback or
 *   sink action lands elsewhere after our first false, what follows differs
 *   too (a write lands after end(), a destroy() drops more), so the run is
 *   compared loosely: each callback called as often as on Node, the
 *   program's own call results, and the waiters;
 * - `writableLength`;
 * - timing of delivery: our batches go out a tick or a turn later, and our
 *   `_final` waits for the last one. Node's sink finishes when ours does
 *   (holdFinal), so 'finish' falls at the same point of the program; a
 *   Transform's readable side ends when ours does; a destroyed or errored
 *   stream may have delivered only a prefix of what Node's instant sink got;
 * - after a stream's first failure, Node's own order of failing callbacks
 *   depends on its internal ticks: from there, events keep their order and
 *   callbacks are compared as a multiset (afterFailure).
 *
 * `writeV(chunks, cb)` is ours; its Node equivalent is the chunks written back
 * to back under `cork()`, `cb` on the last one (a bad chunk fails the group
 * before any is written). An empty group is a write of nothing (a zero-length
 * Buffer, or a marker item the sink drops), in its place: its callback comes
 * in write order (on the next tick, or after uncork() under cork).
 */
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { Transform, Writable } from 'node:stream';
import { inspect, types } from 'node:util';
import { runInNewContext } from 'node:vm';
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';

// ---- Programs --------------------------------------------------------------

export type ClassName = 'BatchingWritable' | 'AsyncBatchStream';
export const CLASSES: readonly ClassName[] = ['BatchingWritable', 'AsyncBatchStream'];

/** Encodings Node accepts (in several spellings), and one it refuses. */
const ENCODINGS = [
  'utf8',
  'utf-8',
  'UTF8',
  'ascii',
  'latin1',
  'binary',
  'ucs2',
  'ucs-2',
  'utf16le',
  'utf-16le',
  'hex',
  'base64',
  'base64url',
] as const;
const BAD_ENCODING = 'bogus';

/** A byte-mode chunk, or an object-mode item, built fresh for each run. */
export type ChunkSpec =
  | { kind: 'string'; text: string }
  | { kind: 'buffer'; bytes: number[] }
  /** A Uint8Array looking at `bytes` at `offset` in a larger ArrayBuffer. */
  | { kind: 'view'; bytes: number[]; offset: number }
  | { kind: 'typed'; type: 'Uint16Array' | 'Int32Array' | 'Float64Array' | 'DataView'; bytes: number[] }
  | { kind: 'bad'; value: 'number' | 'object' | 'null' | 'undefined' | 'boolean' }
  | { kind: 'item'; value: 'object' | 'string' | 'zero' | 'false' | 'undefined' | 'empty buffer' | 'null' };

/** A write's callback: none, one of two shared functions, its own, or one that acts when called. */
export type CallbackSpec = 'none' | 'X' | 'Y' | 'own' | { then: InnerOp };

/**
 * How write() is told its encoding: left out ('omit'), `undefined`, `null`,
 * or an encoding's name (valid or not).
 */
export type EncodingArg = string;

/** What a callback or the sink may do when it runs. */
export type InnerOp =
  | { op: 'write'; chunk: ChunkSpec; encoding: EncodingArg; callback: 'none' | 'X' | 'Y' | 'own' }
  | { op: 'writeV'; chunks: ChunkSpec[]; callback: 'none' | 'X' | 'Y' | 'own' }
  | { op: 'end'; callback: 'none' | 'own' }
  | { op: 'destroy'; error: boolean }
  /** Inside the sink only: the sink fails (onBatch throws or rejects; Node's sink calls back with it). */
  | { op: 'fail'; error: 'error' | 'foreign error'; how: 'throw' | 'reject' }
  /**
   * Inside a Transform's reader only: it stops reading as a `break` out of
   * `for await` does, destroying the stream with an AbortError (a reader
   * that is no iterator, and Node's side, destroy it with one alike).
   */
  | { op: 'break' };

export type Op =
  | { op: 'write'; chunk: ChunkSpec; encoding: EncodingArg; callback: CallbackSpec }
  | { op: 'writeV'; chunks: ChunkSpec[]; callback: CallbackSpec }
  | { op: 'cork' }
  | { op: 'uncork' }
  | { op: 'setDefaultEncoding'; encoding: string }
  | { op: 'end'; chunk: ChunkSpec | null; encoding: EncodingArg; callback: 'none' | 'own' | 'X' }
  | { op: 'destroy'; error: boolean }
  | { op: 'abort' }
  | { op: 'flush' }
  | { op: 'ready' }
  | { op: 'dispose' }
  | { op: 'wait'; hop: Hop }
  /** Waits until all is delivered, writes `chunk`, and runs `then` inside the sink that takes it. */
  | { op: 'sinkWrite'; chunk: ChunkSpec; then: InnerOp }
  /**
   * A Transform's reader (ours; nothing on Node's side, whose sink took
   * everything at once): `read()` once or until null (a paused reader), or
   * `pause()` / `resume()` (a flowing or piping one). See `Reader`.
   */
  | { op: 'read'; all: boolean }
  | { op: 'pause' }
  | { op: 'resume' };

/**
 * How our Transform's readable side is read: 'data' listeners (pausing for
 * the consumer's delays), `read()` only at 'read' ops (paused mode), a
 * 'readable' listener reading until null, `for await` (waiting the delays
 * in its body), or `pipe()` into a Writable whose writes take the delays
 * (its default highWaterMark, or 1). After the program (and before a
 * sinkWrite) every reader reads all that comes: the program's user reads
 * to the end.
 */
export type Reader = 'flowing' | 'paused' | 'readable' | 'iterator' | 'pipe' | 'pipe hwm 1';
export const READERS: readonly Reader[] = ['flowing', 'paused', 'readable', 'iterator', 'pipe', 'pipe hwm 1'];

export type Hop = 'tick' | 'microtask' | 'immediate' | 'settle';

export interface Program {
  cls: ClassName;
  objectMode: boolean;
  size: number;
  highWaterMark: number | undefined;
  emitClose: boolean | undefined;
  autoDestroy: boolean | undefined;
  defaultEncoding: string | undefined;
  /** No signal, one aborted before construction, or one the program aborts ('abort' ops). */
  signal: 'none' | 'aborted' | 'controller';
  /** How long our consumer takes per batch: null returns at once; else batch n waits `delays[n % length]`. */
  delays: ('microtask' | 'immediate')[][] | null;
  /** BatchingWritable's `concurrency`; left out when undefined. */
  concurrency?: number | undefined;
  /** Object mode's `maxBytes`, items weighed by `weightOf`; left out when undefined. */
  maxBytes?: number | undefined;
  /** AsyncBatchStream's reader; 'flowing' when undefined. */
  reader?: Reader | undefined;
  /** AsyncBatchStream's `readableHighWaterMark` (batches); its default, 1, when undefined. */
  readableHighWaterMark?: number | undefined;
  /**
   * AsyncBatchStream in byte mode: its reader calls `setEncoding('utf8')`
   * first, and what it reads (strings, never empty) is compared with what
   * Node's sink got, decoded as a whole.
   */
  setEncoding?: boolean | undefined;
  ops: Op[];
}

/** The `sizeOf` of programs with `maxBytes`: objects weigh 3, any other value 1. */
export function weightOf(item: unknown): number {
  return typeof item === 'object' && item !== null ? 3 : 1;
}

// ---- Arbitraries -----------------------------------------------------------

/** Characters that stress every encoding: hex and base64 digits, padding, whitespace, multi-byte text. */
const CHARS = [
  ...'0123456789abcdefABCDEF',
  ...'QUJDxyzXYZ+/-_',
  '=',
  '==',
  '\n',
  ' ',
  '\t',
  'é',
  'ÿ',
  'Ā',
  '€',
  '😀',
  '\ud800',
  '\u0000',
];
const textArb = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('QUJD\n\n\n\n', 'zz', 'abc', '', 'QQ==', 'QUJD', 'f', '0g', 'YQ', '=', 'a b'),
  },
);
const bytesArb = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 });

const byteChunkArb: fc.Arbitrary<ChunkSpec> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('string' as const), text: textArb }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('buffer' as const), bytes: bytesArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('view' as const),
      bytes: bytesArb,
      offset: fc.integer({ min: 0, max: 9 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('typed' as const),
      type: fc.constantFrom(
        'Uint16Array' as const,
        'Int32Array' as const,
        'Float64Array' as const,
        'DataView' as const,
      ),
      bytes: fc
        .array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 })
        .map((b) => [...b, ...b, ...b, ...b, ...b, ...b, ...b, ...b]),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bad' as const),
      value: fc.constantFrom(
        'number' as const,
        'object' as const,
        'null' as const,
        'undefined' as const,
        'boolean' as const,
      ),
    }),
  },
);
const itemArb: fc.Arbitrary<ChunkSpec> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: 'item' as const, value: 'object' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('item' as const),
      value: fc.constantFrom(
        'string' as const,
        'zero' as const,
        'false' as const,
        'undefined' as const,
        'empty buffer' as const,
        'null' as const,
      ),
    }),
  },
  { weight: 1, arbitrary: byteChunkArb },
);

const encodingArgArb: fc.Arbitrary<EncodingArg> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('omit') },
  { weight: 1, arbitrary: fc.constantFrom('undefined', 'null', BAD_ENCODING, 'buffer') },
  { weight: 6, arbitrary: fc.constantFrom(...ENCODINGS) },
);
const simpleCallbackArb = fc.constantFrom('none' as const, 'X' as const, 'Y' as const, 'own' as const);

function innerOpArb(chunk: fc.Arbitrary<ChunkSpec>): fc.Arbitrary<InnerOp> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant('write' as const),
        chunk,
        encoding: encodingArgArb,
        callback: simpleCallbackArb,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('writeV' as const),
        chunks: fc.array(chunk, { maxLength: 3 }),
        callback: simpleCallbackArb,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('end' as const),
        callback: fc.constantFrom('none' as const, 'own' as const),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('destroy' as const), error: fc.boolean() }) },
  );
}

function opArb(chunk: fc.Arbitrary<ChunkSpec>, cls: ClassName): fc.Arbitrary<Op> {
  const transform = cls === 'AsyncBatchStream';
  const callback: fc.Arbitrary<CallbackSpec> = fc.oneof(
    { weight: 8, arbitrary: simpleCallbackArb },
    { weight: 1, arbitrary: fc.record({ then: innerOpArb(chunk) }) },
  );
  return fc.oneof(
    {
      weight: 20,
      arbitrary: fc.record({ op: fc.constant('write' as const), chunk, encoding: encodingArgArb, callback }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant('writeV' as const),
        chunks: fc.array(chunk, { maxLength: 4 }),
        callback,
      }),
    },
    { weight: 3, arbitrary: fc.constant({ op: 'cork' as const }) },
    { weight: 3, arbitrary: fc.constant({ op: 'uncork' as const }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('setDefaultEncoding' as const),
        encoding: fc.constantFrom(...ENCODINGS, BAD_ENCODING),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('end' as const),
        chunk: fc.option(chunk, { nil: null }),
        encoding: encodingArgArb,
        callback: fc.constantFrom('none' as const, 'own' as const, 'X' as const),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('destroy' as const), error: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ op: 'abort' as const }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        { op: 'flush' as const },
        { op: 'ready' as const },
        { op: 'dispose' as const },
      ),
    },
    {
      weight: 8,
      arbitrary: fc.record({
        op: fc.constant('wait' as const),
        hop: fc.constantFrom('tick' as const, 'microtask' as const, 'immediate' as const, 'settle' as const),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('sinkWrite' as const),
        chunk,
        then: fc.oneof(
          { weight: 3, arbitrary: innerOpArb(chunk) },
          {
            weight: 1,
            arbitrary: fc.record({
              op: fc.constant('fail' as const),
              error: fc.constantFrom('error' as const, 'foreign error' as const),
              how: fc.constantFrom('throw' as const, 'reject' as const),
            }),
          },
          { weight: transform ? 1 : 0, arbitrary: fc.constant({ op: 'break' as const }) },
        ),
      }),
    },
    // The reader's own actions (a Transform's).
    {
      weight: transform ? 5 : 0,
      arbitrary: fc.record({ op: fc.constant('read' as const), all: fc.boolean() }),
    },
    {
      weight: transform ? 2 : 0,
      arbitrary: fc.constantFrom({ op: 'pause' as const }, { op: 'resume' as const }),
    },
  );
}

const delaysArb = fc.option(
  fc.array(fc.array(fc.constantFrom('microtask' as const, 'immediate' as const), { maxLength: 3 }), {
    minLength: 1,
    maxLength: 3,
  }),
  { nil: null },
);

/** Programs for one class; `bytesOnly` for the canary. */
export function programArb(
  cls: ClassName,
  options: { bytesOnly?: boolean; maxOps?: number } = {},
): fc.Arbitrary<Program> {
  const objectModeArb = options.bytesOnly ? fc.constant(false) : fc.boolean();
  return objectModeArb.chain((objectMode) =>
    fc.record({
      cls: fc.constant(cls),
      objectMode: fc.constant(objectMode),
      size: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 8 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }) },
      ),
      highWaterMark: fc.constantFrom(0, 1, undefined, undefined, 1000),
      emitClose: fc.constantFrom(undefined, true, false),
      autoDestroy: fc.constantFrom(undefined, true, false),
      defaultEncoding: fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        { weight: 3, arbitrary: fc.constantFrom(...ENCODINGS) },
        { weight: 1, arbitrary: fc.constant(BAD_ENCODING) },
      ),
      signal: fc.oneof(
        { weight: 12, arbitrary: fc.constant('none' as const) },
        { weight: 1, arbitrary: fc.constant('aborted' as const) },
        { weight: 3, arbitrary: fc.constant('controller' as const) },
      ),
      delays: delaysArb,
      concurrency:
        cls === 'BatchingWritable'
          ? fc.oneof(
              { weight: 4, arbitrary: fc.constant(undefined) },
              { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
            )
          : fc.constant(undefined),
      maxBytes: objectMode
        ? fc.oneof(
            { weight: 4, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }) },
          )
        : fc.constant(undefined),
      reader:
        cls === 'AsyncBatchStream'
          ? fc.oneof(
              { weight: 3, arbitrary: fc.constant('flowing' as const) },
              { weight: 4, arbitrary: fc.constantFrom(...READERS.filter((r) => r !== 'flowing')) },
            )
          : fc.constant(undefined),
      readableHighWaterMark:
        cls === 'AsyncBatchStream' ? fc.constantFrom(undefined, undefined, 0, 3) : fc.constant(undefined),
      setEncoding:
        cls === 'AsyncBatchStream' && !objectMode
          ? fc.oneof(
              { weight: 5, arbitrary: fc.constant(undefined) },
              { weight: 1, arbitrary: fc.constant(true) },
            )
          : fc.constant(undefined),
      ops: fc.array(opArb(objectMode ? itemArb : byteChunkArb, cls), { maxLength: options.maxOps ?? 14 }),
    }),
  );
}

// ---- Building chunks --------------------------------------------------------

/** Object items made for one run, so items compare by identity within it. */
class Items {
  readonly #labels = new Map<object, string>();
  next = 0;

  label(item: unknown): string {
    if (typeof item === 'object' && item !== null) {
      const known = this.#labels.get(item);
      if (known !== undefined) return known;
      if (Buffer.isBuffer(item)) return `Buffer<${item.toString('hex')}>`;
      return `foreign ${Object.prototype.toString.call(item)}`;
    }
    return `${typeof item} ${String(item)}`;
  }

  make(spec: ChunkSpec): unknown {
    switch (spec.kind) {
      case 'string':
        return spec.text;
      case 'buffer':
        return Buffer.from(spec.bytes);
      case 'view': {
        const store = new Uint8Array(spec.offset + spec.bytes.length + 3).fill(0xcc);
        store.set(spec.bytes, spec.offset);
        return new Uint8Array(store.buffer, spec.offset, spec.bytes.length);
      }
      case 'typed': {
        const store = new Uint8Array(8 + spec.bytes.length).fill(0xcc);
        store.set(spec.bytes, 8);
        if (spec.type === 'DataView') return new DataView(store.buffer, 8, spec.bytes.length);
        const Typed = { Uint16Array, Int32Array, Float64Array }[spec.type];
        return new Typed(store.buffer, 8, spec.bytes.length / Typed.BYTES_PER_ELEMENT);
      }
      case 'bad':
        return { number: 42, object: { not: 'a chunk' }, null: null, undefined: undefined, boolean: true }[
          spec.value
        ];
      case 'item': {
        switch (spec.value) {
          case 'object': {
            const item = { id: this.next++ };
            this.#labels.set(item, `item#${item.id}`);
            return item;
          }
          case 'string':
            return `s${this.next++}`;
          case 'zero':
            return 0;
          case 'false':
            return false;
          case 'undefined':
            return undefined;
          case 'empty buffer': {
            const item = Buffer.alloc(0);
            this.#labels.set(item, `empty buffer#${this.next++}`);
            return item;
          }
          case 'null':
            return null;
        }
      }
    }
  }
}

// ---- Observing ---------------------------------------------------------------

/** What one side of a run showed its user. */
export interface Observation {
  /** Callbacks, events, throws, compared return values and inner actions, in order. */
  trace: string[];
  /** What calls returned (where the contract says it matches Node's) or threw, in call order. */
  returns: string[];
  /** Byte mode: every delivered byte; object mode: item labels. */
  bytes: Buffer;
  items: string[];
  /** State after each stretch of calls and each wait of the program. */
  states: string[];
  /** State right after the program, and after the closing end(). */
  stateAfterProgram: string;
  stateAtClose: string;
  /** Ours only: flush()/ready()/asyncDispose promises that never settled. */
  hanging: string[];
  /** 'drain' events with no write() that returned false since the last one. */
  strayDrains: number;
  /**
   * `end(callback)` calls made on a stream destroyed without an error (ended
   * or not), how many of those callbacks were called, and where in `trace`.
   * Node calls them only in some of its states (a write callback tick still
   * due, ...), and otherwise never; ours always (docs/node-parity.md). Where
   * Node never calls one, ours is left out of the comparison; where it does,
   * they are compared as any callback.
   */
  endsAfterDestroy: number;
  endsAfterDestroyCalled: number;
  endsAfterDestroyAt: number[];
  /**
   * True once cork() was called after our write() returned false: what our
   * held write keeps queued stays queued until uncork() or end(), as behind
   * a sink still busy with a write (docs/node-parity.md).
   */
  corkedAfterFalse: boolean;
  /** Ours with setEncoding(): reads that were an empty string (a byte Transform never reads one). */
  emptyReads: number;
  /** Shared callbacks (X) passed to end(): the excuses for end() callbacks hold for them too. */
  endCallbacks: string[];
  /** Names of the callbacks of end() calls made after destroy() (without an error). */
  endsMadeAfterDestroy: string[];
  /** True once our write() returned false: later timing may differ by design. */
  backpressured: boolean;
  /** Length of `trace` when our write() first returned false. */
  backpressuredAt: number;
}

/** User errors made per run: compared by identity, printed by name. */
const userErrorNames = new WeakMap<object, string>();

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && userErrorNames.has(value)) return userErrorNames.get(value) as string;
  if (types.isNativeError(value)) {
    const code = (value as { code?: unknown }).code;
    return `${value.name}(${typeof code === 'string' ? code : value.message})`;
  }
  return `${typeof value} ${inspect(value)}`;
}

/** The trace entry of the end() a run makes after its program. */
const CLOSING_END = 'closing end()';

/** Marks a state noted while our side held a write callback for the drain. */
const HELD_MARK = '(callback held) ';

function stateOf(side: Side): string {
  const stream = side.stream;
  return [
    `writableEnded=${stream.writableEnded}`,
    `writableFinished=${stream.writableFinished}`,
    `writableCorked=${stream.writableCorked}`,
    `destroyed=${stream.destroyed}`,
    `errored=${describeValue(stream.errored)}`,
    `closed=${stream.closed}`,
    `writableAborted=${stream.writableAborted}`,
    ...(stream instanceof Transform
      ? [`readableEnded=${side.readableEnded?.() ?? stream.readableEnded}`]
      : []),
  ].join(' ');
}

function immediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Marker item standing for an empty writeV() group on Node's side (dropped by its sink). */
const EMPTY_GROUP = Object.freeze({ emptyGroup: true });

/** What a sink hands the run: a batch, or what Node's sink was given at once. */
type Sink = (delivered: Buffer | unknown[]) => void;

/** One side of a run: a stream, and how to reach it. */
interface Side {
  readonly stream: Writable;
  /** Our class's extras; null on Node's side. */
  readonly extras: {
    writeV(chunks: unknown[], callback?: (error?: Error | null) => void): boolean;
    flush(): Promise<void>;
    ready(): Promise<void>;
    dispose(): Promise<void>;
  } | null;
  /** True while our consumer is working on a batch (settle waits for it). */
  busy(): boolean;
  /** Our Transform's reader; null elsewhere. */
  readonly reader: ReaderControl | null;
  /** Node's Transform: `readableEnded` as the comparison takes it (see nodeSide). */
  readonly readableEnded?: () => boolean;
}

/** What the program does to our Transform's reader (`Reader`). */
interface ReaderControl {
  /** A paused reader: `read()` once, or until null. */
  read(all: boolean): void;
  /** A flowing or piping reader: `pause()` / `resume()` of the readable side. */
  pause(): void;
  resume(): void;
  /** From now on, reads all that comes (a paused reader reads on 'readable'; a paused flow resumes). */
  drain(): void;
}

/** The error a `break` out of `for await` destroys a stream with, as describeValue prints it. */
function abortError(): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

/** Runs one program on one side and records what its user sees. */
class Run {
  readonly obs: Observation = {
    trace: [],
    returns: [],
    bytes: Buffer.alloc(0),
    items: [],
    states: [],
    stateAfterProgram: '',
    stateAtClose: '',
    hanging: [],
    strayDrains: 0,
    endsAfterDestroy: 0,
    endsAfterDestroyCalled: 0,
    endsAfterDestroyAt: [],
    backpressured: false,
    backpressuredAt: -1,
    corkedAfterFalse: false,
    endCallbacks: [],
    emptyReads: 0,
    endsMadeAfterDestroy: [],
  };
  readonly items = new Items();
  readonly #chunks: Buffer[] = [];
  /** Everything noticed, to tell when a side has gone quiet. */
  #activity = 0;
  /** The inner action the sink runs at the next delivery of data, with a label. */
  #armed: { then: InnerOp; label: string } | null = null;
  /** Set by `deliver` when the armed action is a failure of the sink. */
  #failure: { error: Error; how: 'throw' | 'reject' } | null = null;
  /** Set by `deliver` when the armed action is a Transform's reader breaking off. */
  #breaking = false;
  /** Ops started so far: where inner actions land. */
  #opIndex = 0;
  /** Units written so far, as Node counts them (for write()'s return value). */
  #unitsWritten = 0;
  /** Of those, what `sizeOf` weighs (programs with `maxBytes`). */
  #weightWritten = 0;
  readonly #callbacks = new Map<string, (error?: unknown) => void>();
  readonly #waiters: { label: string; settled: boolean }[] = [];
  readonly #controller = new AbortController();
  side!: Side;
  /** The other side of the same run: settling waits for both. */
  partner: Run | null = null;
  /**
   * Our side: true once our stream's `_final` is done ('prefinish'). Node's
   * sink finishes at that moment too, so 'finish' comes at the same point of
   * the program on both sides (ours hands its last batch over first, which
   * takes turns: a documented difference in timing).
   */
  #finalDone = false;
  /** Called when `#finalDone` turns true. */
  #onFinalDone: (() => void) | null = null;
  /** Node's side: its pending `final` callback, released when our side's final is done. */
  #finalCallback: (() => void) | null = null;
  /** Our side: true once our readable side ended; who waits for that (Node's paused readable side). */
  #readableDone = false;
  /** True once a write() returned false, until the next 'drain'. */
  #drainOwed = false;
  /**
   * Ours only: callbacks of writes that returned false, not called yet (the
   * core holds them for the drain, where Node's instant sink calls them
   * back at once, so the state in between may differ by design).
   */
  #heldCallbacks = 0;
  #onReadableEnd: (() => void)[] = [];

  constructor(
    readonly program: Program,
    readonly ours: boolean,
  ) {}

  note(entry: string): void {
    this.#activity++;
    this.obs.trace.push(entry);
  }

  /** The sink's record of a delivery; runs an armed inner action once data arrives. */
  readonly deliver: Sink = (delivered) => {
    this.#activity++;
    if (Buffer.isBuffer(delivered)) {
      if (delivered.length === 0) return;
      this.#chunks.push(Buffer.from(delivered));
    } else {
      const items = delivered.filter((item) => item !== EMPTY_GROUP);
      if (items.length === 0) return;
      for (const item of items) this.obs.items.push(this.items.label(item));
    }
    const armed = this.#armed;
    if (armed === null) return;
    this.#armed = null;
    if (armed.then.op === 'fail') {
      this.note(`${armed.label}: the sink fails`);
      const error =
        armed.then.error === 'error'
          ? new Error(armed.label)
          : (runInNewContext('new Error("foreign")') as Error);
      userErrorNames.set(error, `${armed.then.error === 'error' ? 'E' : 'ForeignE'}(${armed.label})`);
      this.#failure = { error, how: armed.then.how };
      return;
    }
    if (armed.then.op === 'break') {
      this.note(`${armed.label}: the reader breaks off`);
      this.#breaking = true;
      return;
    }
    this.#inner(armed.then, `${armed.label} (inside the sink)`);
  };

  /**
   * Node's side of a failing sink: the stream is destroyed with the error,
   * as ours is whatever `autoDestroy` says (README: a throwing or rejecting
   * consumer destroys the stream with that error object).
   */
  failNode(error: Error, callback: (error?: Error | null) => void): void {
    callback();
    this.side.stream.destroy(error);
  }

  /** The failure the sink must report for the delivery just recorded, once. */
  takeFailure(): { error: Error; how: 'throw' | 'reject' } | null {
    const failure = this.#failure;
    this.#failure = null;
    return failure;
  }

  /** True once, when the delivery just recorded makes the reader break off. */
  takeBreak(): boolean {
    const breaking = this.#breaking;
    this.#breaking = false;
    return breaking;
  }

  /** A named callback: shared X and Y, or one per call. */
  callback(spec: CallbackSpec | 'own', label: string): ((error?: unknown) => void) | undefined {
    if (spec === 'none') return undefined;
    if (typeof spec === 'object') {
      let done = false;
      return (error?: unknown) => {
        this.note(`${label}-cb(${describeValue(error)})`);
        if (done) return;
        done = true;
        this.#inner(spec.then, `${label}-cb`);
      };
    }
    const name = spec === 'own' ? label : spec;
    let callback = this.#callbacks.get(name);
    if (callback === undefined) {
      callback = (error?: unknown) => this.note(`${name}(${describeValue(error)})`);
      if (spec !== 'own') this.#callbacks.set(name, callback);
    }
    return callback;
  }

  build(make: (run: Run, signal: AbortSignal | undefined) => Side): boolean {
    const signal =
      this.program.signal === 'aborted'
        ? AbortSignal.abort()
        : this.program.signal === 'controller'
          ? this.#controller.signal
          : undefined;
    try {
      this.side = make(this, signal);
    } catch (error) {
      this.note(`constructor threw ${describeValue(error)}`);
      return false;
    }
    const stream = this.side.stream;
    for (const event of ['error', 'finish', 'close'] as const) {
      stream.on(event, (error?: unknown) =>
        this.note(event === 'error' ? `'error' ${describeValue(error)}` : `'${event}'`),
      );
    }
    // A Transform's readable 'end' follows the last batch read: its place
    // among the writable side's events is timing; readableEnded is compared.
    stream.on('drain', () => {
      this.#activity++;
      // Node's contract: 'drain' only after a write() returned false.
      if (!this.#drainOwed) this.obs.strayDrains++;
      this.#drainOwed = false;
    });
    stream.on('prefinish', () => this.#markFinalDone());
    stream.on('end', () => this.#markReadableDone());
    return true;
  }

  /**
   * Runs the program's next op: at once for a call (consecutive calls run
   * in one synchronous stretch, as a user's code would), or as a promise for
   * a wait.
   */
  step(op: Op): Promise<void> | undefined {
    this.#opIndex++;
    return this.#step(op, `#${this.#opIndex}`);
  }

  /** After the program: its state, then a closing end(), then the state at close and the waiters. */
  async close(phase: 'program' | 'closing' | 'end' | 'waiters'): Promise<void> {
    const stream = this.side.stream;
    switch (phase) {
      case 'program':
        await this.settle();
        // Marked while ours holds a write callback for the drain (a reader
        // not reading holds it to the end of the program): as `states`.
        this.obs.stateAfterProgram = `${this.#holdsAtEnd() ? HELD_MARK : ''}${stateOf(this.side)}`;
        return;
      case 'closing':
        // (Both sides' states are noted first: reading to the end may end
        // ours, and so Node's readable side, at once.)
        this.side.reader?.drain();
        if (!stream.destroyed && !stream.writableEnded) {
          this.note(CLOSING_END);
          stream.end();
        }
        await this.settle();
        return;
      case 'end':
        // Ours has finished, or never will: Node's sink may finish now,
        // unless the stream failed meanwhile.
        if (!stream.destroyed && stream.errored === null) this.releaseFinal();
        await this.settle();
        this.obs.stateAtClose = stateOf(this.side);
        return;
      case 'waiters':
        // Bounded wait: a waiter still pending now, the stream closed or finished, hangs.
        for (let turn = 0; turn < 20 && this.#waiters.some((w) => !w.settled); turn++) await immediate();
        // (A flush() waits for what Node still holds under cork(), as
        // docs/semantics.md 8 says: still corked, that is no hang of ours.)
        this.obs.hanging = this.#waiters
          .filter((w) => !w.settled && !(stream.writableCorked > 0 && w.label.startsWith('flush')))
          .map((w) => w.label);
        this.obs.bytes = Buffer.concat(this.#chunks);
        return;
    }
  }

  /**
   * Ours, after the program: a write callback may be held for the drain,
   * one whose write() said false, or one Node's path handed the core while
   * over its limit (under cork(), or behind a held write): data still waits
   * in the core.
   */
  #holdsAtEnd(): boolean {
    if (!this.ours) return false;
    if (this.#heldCallbacks > 0) return true;
    if (this.program.cls !== 'AsyncBatchStream') return false;
    const extras = this.side.stream as Partial<Pick<AsyncBatchStream<unknown>, 'stats'>>;
    return (extras.stats?.pendingUnits ?? 0) > 0 && !this.side.stream.destroyed;
  }

  #markFinalDone(): void {
    if (this.#finalDone) return;
    this.#finalDone = true;
    const then = this.#onFinalDone;
    this.#onFinalDone = null;
    if (then !== null) then();
  }

  holdFinal(callback: () => void): void {
    const partner = this.partner;
    if (partner === null || partner.#finalDone) {
      callback();
      return;
    }
    this.#finalCallback = callback;
    partner.#onFinalDone = () => this.releaseFinal();
  }

  releaseFinal(): void {
    const callback = this.#finalCallback;
    this.#finalCallback = null;
    if (callback !== null) callback();
  }

  onReadableEnd(then: () => void): void {
    if (this.#readableDone) then();
    else this.#onReadableEnd.push(then);
  }

  #markReadableDone(): void {
    this.#readableDone = true;
    for (const then of this.#onReadableEnd.splice(0)) then();
  }

  get activity(): number {
    return this.#activity;
  }

  /** Waits until nothing has happened for a few turns and our consumer is idle. */
  async settle(): Promise<void> {
    let quiet = 0;
    let seen = -1;
    for (let turn = 0; turn < 400 && quiet < 3; turn++) {
      await immediate();
      const activity = this.#activity + (this.partner?.activity ?? 0);
      const busy = this.side.busy() || (this.partner?.side?.busy() ?? false);
      if (activity === seen && !busy) quiet++;
      else quiet = 0;
      seen = activity;
    }
  }

  #step(op: Op, label: string): Promise<void> | undefined {
    const stream = this.side.stream;
    switch (op.op) {
      case 'write':
        this.#write(op.chunk, op.encoding, this.callback(op.callback, `write${label}`), `write${label}`);
        return;
      case 'writeV':
        this.#writeV(op.chunks, this.callback(op.callback, `writeV${label}`), `writeV${label}`);
        return;
      case 'cork':
        if (this.obs.backpressured) this.obs.corkedAfterFalse = true;
        stream.cork();
        return;
      case 'uncork':
        stream.uncork();
        return;
      case 'setDefaultEncoding':
        this.#call(`setDefaultEncoding${label}`, () =>
          stream.setDefaultEncoding(op.encoding as BufferEncoding),
        );
        return;
      case 'end':
        this.#end(op, label);
        return;
      case 'destroy':
        this.#destroy(op.error, label);
        return;
      case 'abort':
        this.#controller.abort();
        return;
      case 'flush':
      case 'ready':
      case 'dispose':
        this.#extra(op.op, label);
        return;
      case 'wait':
        return this.#hop(op.hop);
      case 'sinkWrite':
        return this.#sinkWrite(op, label);
      case 'read':
        this.side.reader?.read(op.all);
        return;
      case 'pause':
        this.side.reader?.pause();
        return;
      case 'resume':
        this.side.reader?.resume();
        return;
    }
  }

  async #sinkWrite(op: Extract<Op, { op: 'sinkWrite' }>, label: string): Promise<void> {
    const stream = this.side.stream;
    // Ours reads everything from here on: what is not read is not delivered.
    this.side.reader?.drain();
    await this.settle();
    // Only where both sides have handed everything over, so the next
    // delivery holds exactly this write's data on both.
    // (Read as strings, a write of part of a character is not read at once:
    // no reader takes it, where Node's sink did.)
    if (
      stream.writableCorked > 0 ||
      stream.writableEnded ||
      stream.destroyed ||
      this.program.setEncoding === true
    ) {
      this.note(`sinkWrite${label} skipped`);
      return;
    }
    this.#armed = { then: op.then, label: `sinkWrite${label}` };
    this.#write(op.chunk, 'omit', undefined, `sinkWrite${label}`);
    await this.settle();
    this.#armed = null;
  }

  async #hop(hop: Hop): Promise<void> {
    switch (hop) {
      case 'tick':
        await new Promise((resolve) => process.nextTick(resolve));
        return;
      case 'microtask':
        await Promise.resolve();
        return;
      case 'immediate':
        await immediate();
        return;
      case 'settle':
        await this.settle();
        return;
    }
  }

  #inner(op: InnerOp, label: string): void {
    this.note(`${label} at op #${this.#opIndex}: ${op.op}`);
    switch (op.op) {
      case 'write':
        this.#write(op.chunk, op.encoding, this.callback(op.callback, `${label}/write`), `${label}/write`);
        return;
      case 'writeV':
        this.#writeV(op.chunks, this.callback(op.callback, `${label}/writeV`), `${label}/writeV`);
        return;
      case 'end':
        this.#end({ op: 'end', chunk: null, encoding: 'omit', callback: op.callback }, `${label}/`);
        return;
      case 'destroy':
        this.#destroy(op.error, `${label}/`);
        return;
      case 'fail': // only the sink fails, only the reader breaks (deliver)
      case 'break':
        return;
    }
  }

  /** The stream's default encoding now (Node keeps it in its writable state; ours follows it). */
  #defaultEncoding(): BufferEncoding {
    // The state is Node's, read only: no public getter exists.
    return (this.side.stream as Writable & { _writableState: { defaultEncoding: BufferEncoding } })
      ._writableState.defaultEncoding;
  }

  /** Calls `fn`, noting a throw. */
  #call<R>(label: string, fn: () => R): R | undefined {
    try {
      return fn();
    } catch (error) {
      // With the results: a throw happens inside the call, whatever the timing.
      this.#activity++;
      this.obs.returns.push(`${label} threw ${describeValue(error)}`);
      return undefined;
    }
  }

  /** Notes write()'s result where the contract says it matches Node's. */
  #result(label: string, ok: boolean | undefined, before: { comparable: boolean; slot: number }): void {
    if (ok === undefined) return;
    // Apart from the trace (Node's sink may run inside write(), before it
    // returns), in call order.
    if (before.comparable) this.obs.returns[before.slot] = `${label} returned ${ok}`;
    if (!ok) this.#drainOwed = true;
    if (this.ours && !ok && !this.obs.backpressured) {
      this.obs.backpressured = true;
      this.obs.backpressuredAt = this.obs.trace.length;
    }
  }

  /** Before a write of `units`: is its return value one the contract fixes? */
  #comparable(
    units: number,
    label: string,
    items: readonly unknown[],
  ): { comparable: boolean; slot: number } {
    const stream = this.side.stream;
    this.#unitsWritten += units;
    this.#weightWritten += this.#weightOf(items);
    const closed = stream.writableEnded || stream.destroyed || stream.errored !== null;
    // The write that hands the sink its inner action may see that action's
    // effect on Node's side (its sink runs inside write()), not on ours.
    const comparable = !label.startsWith('sinkWrite#') || label.includes('/');
    const slot = this.obs.returns.length;
    this.obs.returns.push(`${label} (not compared)`);
    // With maxBytes, ours also says false at its byte limit (docs/semantics.md 22).
    const maxBytes = this.program.maxBytes;
    const belowBytes =
      maxBytes === undefined ||
      this.#weightWritten <
        Math.ceil((maxBytes * (this.program.size + stream.writableHighWaterMark)) / this.program.size);
    return {
      comparable: comparable && (closed || (this.#unitsWritten < stream.writableHighWaterMark && belowBytes)),
      slot,
    };
  }

  /** What `sizeOf` makes of these items, in programs with `maxBytes` (0 otherwise). */
  #weightOf(items: readonly unknown[]): number {
    if (this.program.maxBytes === undefined) return 0;
    let weight = 0;
    for (const item of items) weight += weightOf(item);
    return weight;
  }

  #unitsOf(chunk: unknown, encoding: EncodingArg): number {
    if (this.program.objectMode) return 1;
    try {
      if (typeof chunk === 'string') {
        const enc =
          encoding === 'omit' || encoding === 'undefined' || encoding === 'null'
            ? this.#defaultEncoding()
            : encoding;
        return Buffer.from(chunk, enc as BufferEncoding).length;
      }
      return ArrayBuffer.isView(chunk) ? chunk.byteLength : 0;
    } catch {
      return 0;
    }
  }

  #write(
    spec: ChunkSpec,
    encoding: EncodingArg,
    callback: ((error?: unknown) => void) | undefined,
    label: string,
  ): void {
    const stream = this.side.stream;
    const chunk = this.items.make(spec);
    const before = this.#comparable(this.#unitsOf(chunk, encoding), label, [chunk]);
    const args: unknown[] = [chunk];
    if (encoding !== 'omit')
      args.push(encoding === 'undefined' ? undefined : encoding === 'null' ? null : encoding);
    const held = this.#holdable(callback);
    if (held.callback !== undefined) args.push(held.callback);
    const ok = this.#call(label, () => (stream.write as (...a: unknown[]) => boolean)(...args));
    this.#result(label, ok, before);
    if (ok === false) held.hold();
  }

  /**
   * On our side, `callback` wrapped to count it while held (`hold()` after
   * its write returned false); on Node's, `callback` itself.
   */
  #holdable(callback: ((error?: unknown) => void) | undefined): {
    callback: ((error?: unknown) => void) | undefined;
    hold: () => void;
  } {
    if (!this.ours || callback === undefined) return { callback, hold: () => {} };
    let held = false;
    let called = false;
    return {
      callback: (error?: unknown) => {
        called = true;
        if (held) this.#heldCallbacks--;
        held = false;
        callback(error);
      },
      hold: () => {
        if (called || held) return;
        held = true;
        this.#heldCallbacks++;
      },
    };
  }

  /** The state now, for `Observation.states`; ours marked while a callback is held. */
  noteState(at: number): void {
    let state = `after op #${at}: ${stateOf(this.side)}`;
    // With several onBatch calls running, our 'close' waits for them
    // (docs/semantics.md 23): a destroyed stream's `closed` is timing there.
    if ((this.program.concurrency ?? 1) > 1 && this.side.stream.destroyed)
      state = state.replace(/ closed=\w+/, '');
    this.obs.states.push(this.#heldCallbacks > 0 ? `${HELD_MARK}${state}` : state);
  }

  #writeV(specs: ChunkSpec[], callback: ((error?: unknown) => void) | undefined, label: string): void {
    const chunks = specs.map((spec) => this.items.make(spec));
    let units = 0;
    for (const chunk of chunks) units += this.#unitsOf(chunk, 'omit');
    // In object mode a group that takes Node's queue (under cork(), or
    // behind a held write) holds one more item there until it is taken: the
    // marker that keeps it together (docs/node-parity.md). Counted always,
    // which compares fewer return values, never a wrong one.
    const marker = this.program.objectMode && chunks.length !== 1 ? 1 : 0;
    const before = this.#comparable(units + marker, label, chunks);
    const extras = this.side.extras;
    const held = this.#holdable(callback);
    const ok = this.#call(label, () =>
      extras !== null ? extras.writeV(chunks, held.callback) : this.#nodeWriteV(chunks, held.callback),
    );
    this.#result(label, ok, before);
    if (ok === false) held.hold();
  }

  /** writeV() on Node's stream: a bad chunk fails the group up front; then all under cork. */
  #nodeWriteV(chunks: unknown[], callback: ((error?: unknown) => void) | undefined): boolean {
    const stream = this.side.stream;
    const probe = new Writable({
      objectMode: this.program.objectMode,
      defaultEncoding: this.#defaultEncoding(),
      write: (_c, _e, cb) => cb(),
    });
    probe.cork();
    for (const chunk of chunks) probe.write(chunk); // throws as write() would
    if (chunks.length === 0) {
      const nothing = this.program.objectMode ? EMPTY_GROUP : Buffer.alloc(0);
      return callback === undefined ? stream.write(nothing) : stream.write(nothing, callback);
    }
    stream.cork();
    let ok = true;
    try {
      chunks.forEach((chunk, i) => {
        ok =
          i === chunks.length - 1 && callback !== undefined
            ? stream.write(chunk, callback)
            : stream.write(chunk);
      });
    } finally {
      stream.uncork();
    }
    return ok;
  }

  #end(op: Extract<Op, { op: 'end' }>, label: string): void {
    const stream = this.side.stream;
    let callback = this.callback(op.callback, `end${label}`);
    if (op.callback === 'X') this.obs.endCallbacks.push('X');
    const afterDestroy = callback !== undefined && stream.destroyed && stream.errored === null;
    if (afterDestroy) {
      this.obs.endsMadeAfterDestroy.push(op.callback === 'X' ? 'X' : `end${label}`);
      const named = callback as (error?: unknown) => void;
      callback = (error?: unknown) => {
        this.obs.endsAfterDestroyCalled++;
        this.obs.endsAfterDestroyAt.push(this.obs.trace.length);
        named(error);
      };
    }
    const args: unknown[] = [];
    if (op.chunk !== null) {
      const chunk = this.items.make(op.chunk);
      this.#unitsWritten += this.#unitsOf(chunk, op.encoding);
      this.#weightWritten += this.#weightOf([chunk]);
      args.push(chunk);
      if (op.encoding !== 'omit')
        args.push(op.encoding === 'undefined' ? undefined : op.encoding === 'null' ? null : op.encoding);
    }
    if (callback !== undefined) args.push(callback);
    const threw =
      this.#call(`end${label}`, () => (stream.end as (...a: unknown[]) => unknown)(...args)) === undefined;
    // A call that threw made no callback to wait for.
    if (afterDestroy && !threw) this.obs.endsAfterDestroy++;
  }

  #destroy(withError: boolean, label: string): void {
    let error: Error | undefined;
    if (withError) {
      error = new Error(`destroy${label}`);
      userErrorNames.set(error, `E(destroy${label})`);
    }
    this.side.stream.destroy(error);
  }

  #extra(which: 'flush' | 'ready' | 'dispose', label: string): void {
    const extras = this.side.extras;
    if (extras === null) {
      // Node's equivalent of our asyncDispose: end() unless destroyed (ours ends rather than destroys).
      const stream = this.side.stream;
      if (which === 'dispose' && !stream.destroyed && !stream.writableEnded) stream.end();
      return;
    }
    const waiter = { label: `${which}${label}`, settled: false };
    this.#waiters.push(waiter);
    const settled = (): void => {
      waiter.settled = true;
      this.#activity++;
    };
    let promise: Promise<void>;
    try {
      promise = extras[which]();
    } catch (error) {
      this.note(`${which}${label} threw ${describeValue(error)}`);
      waiter.settled = true;
      return;
    }
    promise.then(settled, settled);
  }

  /** For the sides: whether an inner action is armed (the sink then waits a tick, as a busy sink). */
  get armed(): boolean {
    return this.#armed !== null;
  }
}

// ---- The two sides -----------------------------------------------------------

function nodeOptions(program: Program, signal: AbortSignal | undefined): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (program.emitClose !== undefined) options.emitClose = program.emitClose;
  if (program.autoDestroy !== undefined) options.autoDestroy = program.autoDestroy;
  if (program.defaultEncoding !== undefined) options.defaultEncoding = program.defaultEncoding;
  if (signal !== undefined) options.signal = signal;
  return options;
}

function hops(list: readonly ('microtask' | 'immediate')[]): Promise<void> {
  return list.reduce<Promise<void>>(
    (previous, hop) => previous.then(() => (hop === 'microtask' ? undefined : immediate())),
    Promise.resolve(),
  );
}

/** Our class, its consumer taking `program.delays` per batch. */
/** How the run reaches what our classes add to a Writable. */
function extrasOf(stream: BatchingWritable<unknown> | AsyncBatchStream<unknown>): Side['extras'] {
  return {
    // Bad chunks on purpose: the types would refuse them.
    writeV: (chunks, callback) => stream.writeV(chunks as never[], callback),
    flush: () => stream.flush(),
    ready: () => stream.ready(),
    dispose: () => stream[Symbol.asyncDispose](),
  };
}

function oursSide(run: Run, signal: AbortSignal | undefined): Side {
  const program = run.program;
  const options = {
    ...nodeOptions(program, signal),
    size: program.size,
    maxDelay: 0,
    ...(program.readableHighWaterMark === undefined
      ? {}
      : { readableHighWaterMark: program.readableHighWaterMark }),
    objectMode: program.objectMode,
    highWaterMark: program.highWaterMark,
    ...(program.maxBytes === undefined ? {} : { maxBytes: program.maxBytes, sizeOf: weightOf }),
  };
  let count = 0;
  let busy = false;
  let running = 0;
  const delayFor = (): readonly ('microtask' | 'immediate')[] | null =>
    program.delays === null ? null : program.delays[count++ % program.delays.length];
  if (program.cls === 'BatchingWritable') {
    const stream = new BatchingWritable<unknown>({
      ...(options as { size: number; objectMode: true }),
      ...(program.concurrency === undefined ? {} : { concurrency: program.concurrency }),
      onBatch: (batch: unknown) => {
        run.deliver(batch as Buffer | unknown[]);
        const failure = run.takeFailure();
        if (failure?.how === 'throw') throw failure.error;
        if (failure?.how === 'reject') return Promise.reject(failure.error);
        const delay = delayFor();
        if (delay === null) return;
        running++; // several at once with concurrency
        return hops(delay).then(() => {
          running--;
        });
      },
    });
    return {
      stream,
      busy: () => running > 0,
      extras: extrasOf(stream),
      reader: null,
    };
  }
  // Either mode, chosen by the program: the typed overloads pick one.
  const stream = new AsyncBatchStream<unknown>(options as { size: number; objectMode: true });
  return {
    stream,
    busy: () => busy,
    extras: extrasOf(stream),
    reader: readerOf(stream, run, program.reader ?? 'flowing', delayFor, (value) => (busy = value)),
  };
}

/**
 * Reads our Transform as `reader` says, handing each batch read to the run.
 * A failing consumer destroys the stream with its error; one that breaks off
 * destroys it with an AbortError (the iterator: by leaving its loop).
 */
function readerOf(
  stream: AsyncBatchStream<unknown>,
  run: Run,
  reader: Reader,
  delayFor: () => readonly ('microtask' | 'immediate')[] | null,
  setBusy: (busy: boolean) => void,
): ReaderControl {
  if (run.program.setEncoding === true) stream.setEncoding('utf8');
  /** Takes one batch read: false when the reader stops (the stream is destroyed). */
  const take = (read: Buffer | unknown[] | string): boolean => {
    if (typeof read === 'string' && read.length === 0) run.obs.emptyReads++;
    const batch = typeof read === 'string' ? Buffer.from(read, 'utf8') : read;
    run.deliver(batch);
    const failure = run.takeFailure();
    if (failure !== null) {
      stream.destroy(failure.error);
      return false;
    }
    if (run.takeBreak()) {
      if (reader !== 'iterator') stream.destroy(abortError());
      return false;
    }
    return true;
  };
  /** Takes the consumer's delay for this batch; `then` runs after it. */
  const wait = (then: () => void): boolean => {
    const delay = delayFor();
    if (delay === null) return false;
    setBusy(true);
    void hops(delay).then(() => {
      setBusy(false);
      then();
    });
    return true;
  };
  const readUntilNull = (): void => {
    let batch: Buffer | unknown[] | string | null;
    while ((batch = stream.read() as Buffer | unknown[] | string | null) !== null) if (!take(batch)) return;
  };
  const control: ReaderControl = { read() {}, pause() {}, resume() {}, drain() {} };
  switch (reader) {
    case 'flowing': {
      // The user's pause() holds the flow; the consumer's delays pause it too.
      let userPaused = false;
      let waiting = false;
      stream.on('data', (batch: Buffer | unknown[] | string) => {
        if (!take(batch)) return;
        waiting = wait(() => {
          waiting = false;
          if (!userPaused) stream.resume();
        });
        if (waiting) stream.pause();
      });
      control.pause = () => {
        userPaused = true;
        stream.pause();
      };
      control.resume = control.drain = () => {
        userPaused = false;
        if (!waiting) stream.resume();
      };
      return control;
    }
    case 'paused': {
      let draining = false;
      control.read = (all) => {
        if (draining) return;
        if (all) readUntilNull();
        else {
          const batch = stream.read() as Buffer | unknown[] | string | null;
          if (batch !== null) take(batch);
        }
      };
      control.drain = () => {
        if (draining) return;
        draining = true;
        stream.on('readable', readUntilNull);
        readUntilNull();
      };
      return control;
    }
    case 'readable':
      stream.on('readable', readUntilNull);
      return control;
    case 'iterator':
      void (async () => {
        try {
          for await (const batch of stream) {
            if (!take(batch)) break;
            const delay = delayFor();
            if (delay === null) continue;
            setBusy(true);
            await hops(delay);
            setBusy(false);
          }
        } catch {
          // The stream's error: its 'error' listener noted it.
        }
      })();
      return control;
    case 'pipe':
    case 'pipe hwm 1': {
      const destination = new Writable({
        objectMode: true,
        ...(reader === 'pipe hwm 1' ? { highWaterMark: 1 } : {}),
        write(batch: Buffer | unknown[] | string, _encoding, callback) {
          if (!take(batch) || !wait(() => callback())) callback();
        },
      });
      stream.pipe(destination);
      control.pause = () => stream.pause();
      control.resume = control.drain = () => {
        stream.resume();
      };
      return control;
    }
  }
}

/**
 * Node's own stream, whose sink records each chunk and calls back at once
 * (on the next tick while an inner action runs, as a busy sink would, which
 * keeps Node's callbacks in write order; a failing sink destroys the stream
 * with its error, as ours). Its `final` (a Transform's `flush`) waits for
 * ours to finish, and a Transform's readable side for ours to end.
 */
function nodeSide(run: Run, signal: AbortSignal | undefined): Side {
  const program = run.program;
  const options = nodeOptions(program, signal);
  const record = (chunks: unknown[]): void =>
    run.deliver(program.objectMode ? chunks : Buffer.concat(chunks as Buffer[]));
  let stream: Writable;
  if (program.cls === 'BatchingWritable') {
    stream = new Writable({
      ...options,
      objectMode: program.objectMode,
      highWaterMark: program.highWaterMark,
      write(chunk, _encoding, callback) {
        sinkCall(run, () => record([chunk]), callback);
      },
      writev(entries, callback) {
        sinkCall(run, () => record(entries.map((e) => e.chunk as unknown)), callback);
      },
      final(callback) {
        run.holdFinal(callback);
      },
    });
  } else {
    const transform = new Transform({
      ...options,
      writableObjectMode: program.objectMode,
      readableObjectMode: true,
      // A Transform given readableHighWaterMark 0 takes writableHighWaterMark
      // 0 unless told (Node avoids buffering twice); ours is one.
      writableHighWaterMark: program.highWaterMark ?? (program.readableHighWaterMark === 0 ? 0 : undefined),
      readableHighWaterMark: 1e9,
      transform(chunk, _encoding, callback) {
        sinkCall(
          run,
          () => record([chunk]),
          (error) => callback(error, null),
        );
      },
      flush(callback) {
        // Node's readable side ends when ours does (ours ends after its
        // reader took the last batch, or, paused and empty, at once): it is
        // never read until then (its sink took everything, it holds
        // nothing), and then read. autoDestroy then closes both alike.
        run.partner?.onReadableEnd(() => {
          endSignaled = true;
          transform.resume();
        });
        run.holdFinal(() => callback());
      },
    });
    stream = transform;
  }
  // Node's readable side, read at once, would end with ours; it emits 'end'
  // a tick or two after ours (once told): counted ended from then on, even
  // if destroyed meanwhile. (Its state is Node's, read only: no public
  // getter tells a pushed end from an emitted one.)
  let endSignaled = false;
  const readableEnded = (): boolean =>
    (stream as Transform).readableEnded ||
    (endSignaled && (stream as Transform & { _readableState: { ended: boolean } })._readableState.ended);
  return { stream, busy: () => false, extras: null, reader: null, readableEnded };
}

/** Records a delivery; when it ran an inner action, calls back on the next tick (a busy sink). */
function sinkCall(run: Run, record: () => void, callback: (error?: Error | null) => void): void {
  const armed = run.armed;
  record();
  const failure = run.takeFailure();
  if (failure !== null) run.failNode(failure.error, callback);
  else if (run.takeBreak()) run.failNode(abortError(), callback);
  else if (armed && !run.armed) process.nextTick(callback);
  else callback();
}

// ---- Running and comparing ----------------------------------------------------

export interface Outcome {
  ours: Observation;
  node: Observation;
  /** Differences found; empty when the run matches. */
  differences: string[];
  /** True when timing differed by design (backpressure), and only loose checks applied. */
  loose: boolean;
  /** Loose as well: a cork() after a false kept a held write's queue waiting (docs/node-parity.md). */
  heldUnderCork: boolean;
}

function isWait(op: Op): boolean {
  return op.op === 'wait' || op.op === 'sinkWrite';
}

/**
 * Runs `program` on our class and on Node's stream, side by side: each op
 * on both, then the same wait on both; then compares.
 */
export async function runProgram(program: Program): Promise<Outcome> {
  const ours = new Run(program, true);
  const node = new Run(program, false);
  node.partner = ours;
  ours.partner = node;
  const built = [ours.build(oursSide), node.build(nodeSide)];
  const runs = [ours, node].filter((_, i) => built[i]);
  for (let i = 0; i < program.ops.length;) {
    // A stretch of calls runs synchronously on each side (no tick between
    // them: Node merges callbacks per tick); a wait runs on both at once.
    const from = i;
    while (i < program.ops.length && !isWait(program.ops[i])) i++;
    for (const run of runs) for (const op of program.ops.slice(from, i)) void run.step(op);
    for (const run of runs) run.noteState(i);
    if (i < program.ops.length) {
      const wait = program.ops[i++];
      await Promise.all(runs.map((run) => run.step(wait) ?? Promise.resolve()));
      for (const run of runs) run.noteState(i);
    }
  }
  for (const phase of ['program', 'closing', 'end', 'waiters'] as const)
    await Promise.all(runs.map((run) => run.close(phase)));
  const { differences, loose, heldUnderCork } = compare(program, ours.obs, node.obs);
  return { ours: ours.obs, node: node.obs, differences, loose, heldUnderCork };
}

/**
 * `list` (sorted) without the occurrences of excused names beyond as many as
 * `other` has: an excused callback counts only as often as both called it.
 */
function beyondOther(
  list: readonly string[],
  other: readonly string[],
  isExcused: (name: string) => boolean,
): string[] {
  const left = new Map<string, number>();
  for (const name of other) left.set(name, (left.get(name) ?? 0) + 1);
  return list.filter((name) => {
    const count = left.get(name) ?? 0;
    left.set(name, count - 1);
    return !isExcused(name) || count > 0;
  });
}

function firstDifference(a: readonly string[], b: readonly string[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** True for trace entries whose timing our backpressure may shift. */
function isTimed(entry: string): boolean {
  return / at op #\d+: /.test(entry);
}

/** A write or end callback's trace entry: its name and argument. */
const CALLBACK_ENTRY = /^([^' (][^ (]*)\((.*)\)$/;

/**
 * While our write() has returned false, its callback (and those after it)
 * wait for the 'drain': a destroy() meanwhile fails them, as Node fails the
 * writes a slow sink has not taken yet, where Node's instant sink had already
 * called them back with null. So, after our first false, such a failure of
 * a callback that Node called back with null counts as a success (matching
 * arguments are paired first).
 */
function excuseHeldFailures(ours: Observation, node: Observation): string[] {
  if (!ours.backpressured) return ours.trace;
  const failure =
    /^(Error\(ERR_STREAM_DESTROYED\)|Error\(ERR_STREAM_WRITE_AFTER_END\)|AbortError\(ABORT_ERR\)|E\(.*\))$/;
  // Node's arguments per callback, as a multiset: ours that match are
  // spent first; a failure left over becomes a success Node still has.
  const left = new Map<string, string[]>();
  for (const entry of node.trace) {
    const match = CALLBACK_ENTRY.exec(entry);
    if (match !== null) left.set(match[1], [...(left.get(match[1]) ?? []), match[2]]);
  }
  const spend = (name: string, argument: string): boolean => {
    const args = left.get(name) ?? [];
    const at = args.indexOf(argument);
    if (at >= 0) args.splice(at, 1);
    return at >= 0;
  };
  const matched = ours.trace.map((entry) => {
    const match = CALLBACK_ENTRY.exec(entry);
    return match !== null && spend(match[1], match[2]);
  });
  return ours.trace.map((entry, index) => {
    const match = CALLBACK_ENTRY.exec(entry);
    if (match === null || matched[index] || index < ours.backpressuredAt || !failure.test(match[2]))
      return entry;
    return spend(match[1], 'null') ? `${match[1]}(null)` : entry;
  });
}

/**
 * Once a stream fails (a callback gets an error, or 'error' is emitted), the
 * order in which Node fails what is pending depends on its internal ticks:
 * `cork(); end('0', X); write('', Y)` calls Y then X with the default
 * highWaterMark, X then Y with highWaterMark 0. From there on, the events
 * ('error', 'finish', 'close') keep their order, and callbacks and the
 * actions they take are compared as a multiset. This is where a trace
 * starts failing: its first 'error' or callback with an error.
 */
function failureStart(trace: readonly string[]): number {
  const start = trace.findIndex(
    (entry) => entry.startsWith(`'error'`) || (CALLBACK_ENTRY.test(entry) && !entry.endsWith('(null)')),
  );
  return start < 0 ? trace.length : start;
}

/** `trace` with its entries from `start` on regrouped: events in order first, then the rest sorted. */
function afterFailure(trace: readonly string[], start: number): string[] {
  if (start >= trace.length) return [...trace];
  const rest = trace.slice(start);
  const isEvent = (entry: string): boolean => entry.startsWith(`'`) || entry === 'closing end()';
  const events = rest.filter(isEvent);
  const others = rest.filter((entry) => !isEvent(entry)).sort();
  return [
    ...trace.slice(0, start),
    '-- failed: events in order, then callbacks sorted --',
    ...events,
    ...others,
  ];
}

export function compare(
  program: Program,
  ours: Observation,
  node: Observation,
): { differences: string[]; loose: boolean; heldUnderCork: boolean } {
  const differences: string[] = [];
  // Node's calls of end() callbacks made after destroy(), as a multiset:
  // ours that Node never made are left out (before failures are excused,
  // which would rename them).
  const nodeEndsAfterDestroy = node.endsAfterDestroyAt.map((index) => node.trace[index]);
  const kept = ours.trace.filter((entry, index) => {
    if (!ours.endsAfterDestroyAt.includes(index)) return true;
    const at = nodeEndsAfterDestroy.indexOf(entry);
    if (at >= 0) nodeEndsAfterDestroy.splice(at, 1);
    return at >= 0;
  });
  // A write callback ours still held for the drain when the program ended
  // (its reader had not read) comes once the closing end() reads to the
  // end: where the closing end() falls among callbacks is then timing.
  const heldAtEnd = ours.stateAfterProgram.startsWith(HELD_MARK);
  if (heldAtEnd) {
    const closing = (entry: string): boolean => entry !== CLOSING_END;
    kept.splice(0, kept.length, ...kept.filter(closing));
    node = { ...node, trace: node.trace.filter(closing) };
  }
  const excused = excuseHeldFailures({ ...ours, trace: kept }, node);
  // Both sides from the first failure either saw (Node may fail an end()
  // callback before an earlier write's successful one).
  const start = Math.min(failureStart(ours.trace), failureStart(node.trace));
  ours = { ...ours, trace: afterFailure(excused, start) };
  node = { ...node, trace: afterFailure(node.trace, start) };
  const at = firstDifference(ours.trace, node.trace);
  // Our write() said false before the traces part, and a callback or the
  // sink acts: a callback held for the drain may move that action later (a
  // deliberate difference).
  // A callback ours held to the end of the program (its reader had not
  // read) acts after the closing end() too: parted wherever that shows.
  const parted =
    heldAtEnd || (at >= 0 ? ours.backpressuredAt <= at : firstDifference(ours.returns, node.returns) >= 0);
  // A cork() after our write() said false: what the held write keeps queued
  // stays queued until uncork() or end() (and, after end(), for good), as
  // behind a busy sink, where Node's instant sink took everything at once.
  const heldUnderCork = ours.corkedAfterFalse && (at >= 0 ? ours.backpressuredAt <= at : false);
  const loose =
    heldUnderCork || (ours.backpressured && (ours.trace.some(isTimed) || node.trace.some(isTimed)) && parted);
  if (at >= 0 && !loose) {
    differences.push(`trace differs at entry ${at}:\n${sideBySide(ours.trace, node.trace, at)}`);
  } else if (loose) {
    // An action that lands elsewhere changes what follows (a write after
    // end() fails, a destroy() drops data): what still holds is that every
    // callback is called as often as on Node (held under cork(): never more
    // often, and never one Node does not call).
    const names = (trace: readonly string[]): string[] =>
      trace.flatMap((entry) => CALLBACK_ENTRY.exec(entry)?.[1] ?? []).sort();
    const a = names(ours.trace);
    const b = names(node.trace);
    if (heldUnderCork) {
      const left = [...b];
      // (Callbacks of calls made inside a held callback are excused: that
      // call moved, and may land where its outcome differs.)
      const extra = a.filter((name) => {
        const i = left.indexOf(name);
        if (i >= 0) left.splice(i, 1);
        return i < 0 && !name.includes('-cb/');
      });
      if (extra.length > 0) differences.push(`callbacks Node did not call: ${extra.join(', ')}`);
    } else {
      // A call made inside a moved callback may land where its own callback
      // is never called (Node leaves end() callbacks of an errored stream
      // kept alive waiting): those are compared only where both called them.
      const moved = (name: string): boolean => name.includes('-cb/');
      // Likewise an end() callback, when the moved call left our stream
      // errored and kept alive where Node's had ended first.
      const erroredAlive = /destroyed=false errored=(?!null)/.test(ours.stateAtClose);
      const excused = (name: string): boolean =>
        moved(name) || (erroredAlive && (name.startsWith('end') || ours.endCallbacks.includes(name)));
      // And an end() callback ours calls where Node's end() came after a
      // destroy() that a held callback of ours made only later: Node never
      // calls those (see endsAfterDestroy).
      const endedAfterDestroy = (name: string): boolean => node.endsMadeAfterDestroy.includes(name);
      const a2 = beyondOther(a, b, (name) => moved(name) || endedAfterDestroy(name));
      const b2 = beyondOther(b, a, excused);
      const i = firstDifference(a2, b2);
      if (i >= 0)
        differences.push(`callbacks called differ (as multisets, timing aside):\n${sideBySide(a2, b2, i)}`);
    }
  }
  // Calls made by callbacks or the sink run when those do: in order among
  // the program's own calls only when the run is compared exactly and
  // nothing failed.
  const inner = (entry: string): boolean => entry.includes('-cb/') || entry.includes('(inside the sink)/');
  const strict = !loose && start >= ours.trace.length && start >= node.trace.length;
  const calls = (list: readonly string[]): string[] =>
    strict ? [...list] : [...list.filter((e) => !inner(e)), ...list.filter(inner).sort()];
  // Loose: the program's own calls, where both sides fix a result (a moved
  // end() changes whether a later write's result is fixed).
  const own = (list: readonly string[]): string[] => list.filter((e) => !inner(e));
  const [a, b] = loose ? [own(ours.returns), own(node.returns)] : [calls(ours.returns), calls(node.returns)];
  const r = loose
    ? a.findIndex(
        (entry, i) =>
          entry !== b[i] && !entry.endsWith('(not compared)') && !b[i]?.endsWith('(not compared)'),
      )
    : firstDifference(a, b);
  if (r >= 0) differences.push(`call results differ:\n${sideBySide(a, b, r)}`);
  if (!loose) differences.push(...compareData(program, ours, node));
  // While ours holds a callback for the drain, that callback's own actions
  // (an end(), a destroy()) come later than on Node: those states are skipped.
  const [oursStates, nodeStates] = [ours.states, node.states].map((states) =>
    states.map((state, k) => (ours.states[k]?.startsWith(HELD_MARK) ? HELD_MARK : state)),
  );
  const st = firstDifference(oursStates, nodeStates);
  if (!loose && st >= 0) differences.push(`state differs:\n${sideBySide(ours.states, node.states, st)}`);
  if (
    !loose &&
    !ours.stateAfterProgram.startsWith(HELD_MARK) &&
    ours.stateAfterProgram !== node.stateAfterProgram
  ) {
    differences.push(
      `state after the program: ours ${ours.stateAfterProgram}; Node ${node.stateAfterProgram}`,
    );
  }
  if (!loose && ours.stateAtClose !== node.stateAtClose) {
    differences.push(`state at close: ours ${ours.stateAtClose}; Node ${node.stateAtClose}`);
  }
  if (ours.hanging.length > 0 && !heldUnderCork)
    differences.push(`never settled: ${ours.hanging.join(', ')}`);
  if (ours.endsAfterDestroyCalled !== ours.endsAfterDestroy) {
    differences.push(
      `end(callback) after destroy(): ${ours.endsAfterDestroy} made, ${ours.endsAfterDestroyCalled} called`,
    );
  }
  if (ours.emptyReads > 0) differences.push(`${ours.emptyReads} read(s) of an empty string`);
  if (ours.strayDrains > 0)
    differences.push(`'drain' emitted ${ours.strayDrains} time(s) with no write() that returned false`);
  return { differences, loose, heldUnderCork };
}

/**
 * The data delivered: equal, concatenated. One deliberate difference: a
 * destroyed (or errored) stream drops what it had not handed over yet (and a
 * Transform what its readable side still held), where Node's sink took each
 * write at once, so ours is then a prefix of Node's.
 */
function compareData(program: Program, ours: Observation, node: Observation): string[] {
  const failed = / destroyed=true /.test(ours.stateAtClose) || !/ errored=null/.test(ours.stateAtClose);
  // A Transform also drops batches its readable side held when destroyed.
  const discarded =
    failed && (program.cls === 'AsyncBatchStream' || / writableFinished=false /.test(ours.stateAtClose));
  if (program.objectMode) {
    const a = ours.items;
    const b = discarded ? node.items.slice(0, a.length) : node.items;
    if (firstDifference(a, b) >= 0) {
      const i = firstDifference(a, b);
      return [
        `items differ at ${i}${discarded ? " (ours destroyed: a prefix of Node's is enough)" : ''}: ours ${JSON.stringify(a.slice(i, i + 4))}, Node ${JSON.stringify(b.slice(i, i + 4))}`,
      ];
    }
    return [];
  }
  const a = ours.bytes;
  // Read as strings: Node's bytes decoded at once (a decoder fed in pieces
  // decodes the same), ours re-encoded.
  const nodeBytes = program.setEncoding === true ? Buffer.from(node.bytes.toString('utf8')) : node.bytes;
  const b = discarded ? nodeBytes.subarray(0, a.length) : nodeBytes;
  if (!a.equals(b)) {
    return [
      `${describeBytes(a, b)}${discarded ? "\n    (ours destroyed: a prefix of Node's bytes is enough)" : ''}`,
    ];
  }
  return [];
}

function sideBySide(a: readonly string[], b: readonly string[], at: number): string {
  const from = Math.max(0, at - 3);
  const lines: string[] = [];
  for (let i = from; i < Math.max(a.length, b.length) && i < at + 4; i++) {
    const mark = a[i] === b[i] ? '  ' : '≠ ';
    lines.push(`  ${mark}${String(i).padStart(3)}  ours: ${a[i] ?? '-'}   |   Node: ${b[i] ?? '-'}`);
  }
  return lines.join('\n');
}

/** The marker byte the canary fills fresh memory with. */
export const MARK = 0xa5;

function describeBytes(ours: Buffer, node: Buffer): string {
  let i = 0;
  while (i < ours.length && i < node.length && ours[i] === node[i]) i++;
  const hex = (b: Buffer): string =>
    b
      .subarray(Math.max(0, i - 4), i + 12)
      .toString('hex')
      .replace(/(..)/g, '$1 ')
      .trim();
  let text = `bytes differ at offset ${i} (ours ${ours.length} bytes, Node ${node.length}):\n    ours: ${hex(ours)}\n    Node: ${hex(node)}`;
  const runs = markerRuns(ours, node);
  if (runs.length > 0)
    text += `\n    bytes never written (marker 0x${MARK.toString(16)} or zero) in ours: ${runs.join(', ')}`;
  return text;
}

/** Runs of marker (or zero) bytes in ours that Node's bytes do not have there. */
function markerRuns(ours: Buffer, node: Buffer): string[] {
  const runs: string[] = [];
  let start = -1;
  for (let i = 0; i <= ours.length; i++) {
    const odd = i < ours.length && (ours[i] === MARK || ours[i] === 0) && node[i] !== ours[i];
    if (odd && start < 0) start = i;
    if (!odd && start >= 0) {
      runs.push(`[${start}, ${i}) = ${ours[start].toString(16).padStart(2, '0')} x ${i - start}`);
      start = -1;
    }
  }
  return runs;
}

// ---- Printing a program ---------------------------------------------------------

function chunkSource(spec: ChunkSpec): string {
  switch (spec.kind) {
    case 'string':
      return JSON.stringify(spec.text);
    case 'buffer':
      return `Buffer.from([${spec.bytes.join(', ')}])`;
    case 'view':
      return `new Uint8Array(<${spec.offset} bytes, then [${spec.bytes.join(', ')}], then 3>.buffer, ${spec.offset}, ${spec.bytes.length})`;
    case 'typed':
      return `new ${spec.type}(<8 bytes, then [${spec.bytes.join(', ')}]>.buffer, 8${spec.type === 'DataView' ? `, ${spec.bytes.length}` : ''})`;
    case 'bad':
      return {
        number: '42',
        object: `{ not: 'a chunk' }`,
        null: 'null',
        undefined: 'undefined',
        boolean: 'true',
      }[spec.value];
    case 'item':
      return {
        object: '{ id }',
        string: `'s<n>'`,
        zero: '0',
        false: 'false',
        undefined: 'undefined',
        'empty buffer': 'Buffer.alloc(0)',
        null: 'null',
      }[spec.value];
  }
}

function callbackSource(spec: CallbackSpec, label: string): string | null {
  if (spec === 'none') return null;
  if (spec === 'own') return `cb${label}`;
  if (typeof spec === 'object') return `() => { ${innerSource(spec.then)} }`;
  return spec;
}

function encodingSource(encoding: EncodingArg): string | null {
  if (encoding === 'omit') return null;
  if (encoding === 'undefined' || encoding === 'null') return encoding;
  return `'${encoding}'`;
}

function call(name: string, args: (string | null)[]): string {
  while (args.length > 0 && args[args.length - 1] === null) args.pop();
  return `w.${name}(${args.map((a) => a ?? 'undefined').join(', ')})`;
}

function innerSource(op: InnerOp): string {
  switch (op.op) {
    case 'write':
      return call('write', [
        chunkSource(op.chunk),
        encodingSource(op.encoding),
        callbackSource(op.callback, ''),
      ]);
    case 'writeV':
      return call('writeV', [`[${op.chunks.map(chunkSource).join(', ')}]`, callbackSource(op.callback, '')]);
    case 'end':
      return call('end', [op.callback === 'own' ? 'cbEnd' : null]);
    case 'destroy':
      return call('destroy', [op.error ? 'new Error()' : null]);
    case 'fail':
      return `${op.how} ${op.error === 'error' ? 'new Error()' : "vm.runInNewContext('new Error()')"}`;
    case 'break':
      return 'break (out of for await; any other reader: w.destroy(new AbortError()))';
  }
}

/** The program as a few lines of JavaScript, for a failure report. */
export function programSource(program: Program): string {
  const options: string[] = [`size: ${program.size}`];
  if (program.objectMode) options.push('objectMode: true');
  if (program.highWaterMark !== undefined) options.push(`highWaterMark: ${program.highWaterMark}`);
  if (program.emitClose !== undefined) options.push(`emitClose: ${program.emitClose}`);
  if (program.autoDestroy !== undefined) options.push(`autoDestroy: ${program.autoDestroy}`);
  if (program.defaultEncoding !== undefined) options.push(`defaultEncoding: '${program.defaultEncoding}'`);
  if (program.signal === 'aborted') options.push('signal: AbortSignal.abort()');
  if (program.signal === 'controller') options.push('signal: controller.signal');
  if (program.concurrency !== undefined) options.push(`concurrency: ${program.concurrency}`);
  if (program.maxBytes !== undefined) options.push(`maxBytes: ${program.maxBytes}, sizeOf: weightOf`);
  if (program.readableHighWaterMark !== undefined)
    options.push(`readableHighWaterMark: ${program.readableHighWaterMark}`);
  const encoding = program.setEncoding === true ? " w.setEncoding('utf8');" : '';
  const consumer =
    program.delays === null
      ? 'a consumer that returns at once'
      : `a consumer that waits ${JSON.stringify(program.delays)} per batch`;
  const lines = [
    `// ${program.cls}, ${consumer}; X and Y are shared callbacks`,
    program.cls === 'BatchingWritable'
      ? `const w = new BatchingWritable({ ${options.join(', ')}, onBatch });`
      : `const w = new AsyncBatchStream({ ${options.join(', ')} });${encoding} ${readerSource(program.reader ?? 'flowing')}`,
  ];
  program.ops.forEach((op, index) => {
    const label = `#${index + 1}`;
    let line: string;
    switch (op.op) {
      case 'write':
        line = call('write', [
          chunkSource(op.chunk),
          encodingSource(op.encoding),
          callbackSource(op.callback, label),
        ]);
        break;
      case 'writeV':
        line = call('writeV', [
          `[${op.chunks.map(chunkSource).join(', ')}]`,
          callbackSource(op.callback, label),
        ]);
        break;
      case 'end':
        line = call('end', [
          op.chunk === null ? null : chunkSource(op.chunk),
          op.chunk === null ? null : encodingSource(op.encoding),
          op.callback === 'none' ? null : op.callback === 'X' ? 'X' : `cbEnd${label}`,
        ]);
        break;
      case 'destroy':
        line = call('destroy', [op.error ? `new Error('destroy${label}')` : null]);
        break;
      case 'setDefaultEncoding':
        line = call('setDefaultEncoding', [`'${op.encoding}'`]);
        break;
      case 'abort':
        line = 'controller.abort()';
        break;
      case 'cork':
      case 'uncork':
      case 'flush':
      case 'ready':
        line = call(op.op, []);
        break;
      case 'dispose':
        line = 'w[Symbol.asyncDispose]()';
        break;
      case 'wait':
        line = `await ${op.hop === 'settle' ? 'settled (all delivered)' : op.hop}`;
        break;
      case 'read':
        line = op.all ? 'while ((batch = w.read()) !== null) consume(batch)' : 'consume(w.read())';
        break;
      case 'pause':
      case 'resume':
        line = call(op.op, []);
        break;
      case 'sinkWrite':
        line = `await settled; ${call('write', [chunkSource(op.chunk)])} // and inside the sink that takes it: ${innerSource(op.then)}; await settled`;
        break;
    }
    lines.push(`${line}; // ${label}`);
  });
  return lines.join('\n');
}

function readerSource(reader: Reader): string {
  switch (reader) {
    case 'flowing':
      return "w.on('data', consume);";
    case 'paused':
      return '// read only where the program reads, then to the end';
    case 'readable':
      return "w.on('readable', () => { while ((batch = w.read()) !== null) consume(batch); });";
    case 'iterator':
      return 'for await (const batch of w) await consume(batch);';
    case 'pipe':
    case 'pipe hwm 1':
      return `w.pipe(new Writable({ objectMode: true${reader === 'pipe' ? '' : ', highWaterMark: 1'}, write: consume }));`;
  }
}

/** A failure report: the program, then what differed. */
export function report(program: Program, outcome: Outcome): string {
  return `${programSource(program)}\n${outcome.differences.join('\n')}`;
}
