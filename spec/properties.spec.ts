import { expect } from 'chai';
import fc from 'fast-check';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncBatchStream, BatchingWritable } from '../lib';
import { endOf, nextTurn } from './support/helpers';

// Random programs of concurrent producers, checked against semantics 2, 3, 4, 6,
// 7, 8 and 9. A fixed seed keeps the suite deterministic; set
// MWSR_FC_SEED and MWSR_FC_RUNS to explore further. fast-check prints the
// seed, the path and the shrunk counterexample of a failure; MWSR_FC_SEED and
// MWSR_FC_PATH together replay it.
const SEED = process.env.MWSR_FC_SEED === undefined ? 0x6d777372 : Number(process.env.MWSR_FC_SEED);
const RUNS = process.env.MWSR_FC_RUNS === undefined ? 200 : Number(process.env.MWSR_FC_RUNS);
/** fast-check's `path` of a printed failure: with its seed, replays just that case. */
const PATH = process.env.MWSR_FC_PATH;
/**
 * A run that takes longer than this has deadlocked: fast-check reports it as a
 * counterexample (a passing run takes milliseconds). Shrinking a deadlock
 * costs this much per step, hence the long mocha timeout of these specs.
 */
const RUN_TIMEOUT_MS = 1000;
const SHRINK_TIMEOUT_MS = 120_000;

// ---- Programs -------------------------------------------------------------

/** One step of waiting, for a slow consumer. */
type Hop = 'microtask' | 'immediate';
/** How a producer yields between actions. */
type Pause = { kind: 'microtask' } | { kind: 'immediate' } | { kind: 'timer'; ms: number };
/** A byte chunk: its length, and whether it is written as a Buffer, a Uint8Array or a string. */
interface ByteSpec {
  bytes: number;
  form: 'buffer' | 'uint8array' | 'string';
}
/** An object-mode item: mostly fresh objects, sometimes values a careless core could mistake. */
type ItemSpec = 'object' | 'undefined' | 'zero' | 'false' | 'empty string' | 'empty buffer';

type Action<C> =
  | { op: 'write'; chunk: C }
  | { op: 'writeV'; chunks: C[] }
  | { op: 'flush' }
  | { op: 'cork' }
  | { op: 'pause'; pause: Pause };

interface Producer<C> {
  /** What the producer awaits when write() returns false. */
  waitFor: 'drain' | 'callback';
  actions: Action<C>[];
}

/**
 * How the consumer takes batches: `null` returns at once (onBatch returns
 * nothing, or the sink calls back synchronously); otherwise batch n waits for
 * the hops `delays[n % delays.length]`.
 */
type Delays = Hop[][] | null;

/** The downstream of an AsyncBatchStream. */
interface Downstream {
  kind: 'writable' | 'iterator';
  delays: Delays;
  /** The sink Writable's highWaterMark, in batches. */
  sinkHighWaterMark: number;
  readableHighWaterMark: number | undefined;
}

interface Program<C, K> {
  size: number;
  maxDelay: number;
  highWaterMark: number | undefined;
  consumer: K;
  producers: Producer<C>[];
}

const hopArb = fc.constantFrom<Hop>('microtask', 'immediate');
const delaysArb: fc.Arbitrary<Delays> = fc.option(
  fc.array(fc.array(hopArb, { maxLength: 3 }), { minLength: 1, maxLength: 4 }),
  { nil: null },
);
const pauseArb: fc.Arbitrary<Pause> = fc.oneof(
  fc.constant({ kind: 'microtask' as const }),
  fc.constant({ kind: 'immediate' as const }),
  fc.record({ kind: fc.constant('timer' as const), ms: fc.integer({ min: 0, max: 2 }) }),
);
// Small sizes more often: that is where bounds and groups collide.
const sizeArb = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }) },
);
const maxDelayArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.constantFrom(1, 2, 3) },
  { weight: 2, arbitrary: fc.constant(Infinity) },
);
const byteSpecArb: fc.Arbitrary<ByteSpec> = fc.record({
  bytes: fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 8 }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 140 }) },
  ),
  form: fc.constantFrom('buffer' as const, 'uint8array' as const, 'string' as const),
});
const itemSpecArb: fc.Arbitrary<ItemSpec> = fc.oneof(
  { weight: 12, arbitrary: fc.constant('object' as const) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'undefined' as const,
      'zero' as const,
      'false' as const,
      'empty string' as const,
      'empty buffer' as const,
    ),
  },
);

function actionArb<C>(chunk: fc.Arbitrary<C>): fc.Arbitrary<Action<C>> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('write' as const), chunk }) },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('writeV' as const), chunks: fc.array(chunk, { maxLength: 5 }) }),
    },
    { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'cork' as const }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('pause' as const), pause: pauseArb }) },
  );
}

function programArb<C, K>(chunk: fc.Arbitrary<C>, consumer: fc.Arbitrary<K>): fc.Arbitrary<Program<C, K>> {
  return fc.record({
    size: sizeArb,
    maxDelay: maxDelayArb,
    highWaterMark: fc.option(fc.integer({ min: 0, max: 64 }), { nil: undefined }),
    consumer,
    producers: fc.array(
      fc.record({
        waitFor: fc.constantFrom('drain' as const, 'callback' as const),
        actions: fc.array(actionArb(chunk), { maxLength: 10 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  });
}

const downstreamArb: fc.Arbitrary<Downstream> = fc.record({
  kind: fc.constantFrom('writable' as const, 'iterator' as const),
  delays: delaysArb,
  sinkHighWaterMark: fc.integer({ min: 1, max: 4 }),
  readableHighWaterMark: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
});

// ---- Modes ------------------------------------------------------------------

/** What a mode needs: how to build a chunk from its spec, and how it is counted. */
interface ModeKit<C> {
  name: 'byte' | 'object';
  objectMode: boolean;
  chunkArb: fc.Arbitrary<C>;
  /** The chunk to write, a snapshot of what must arrive, and its units. */
  make(spec: C, trace: Trace): { chunk: unknown; expected: unknown; units: number };
}

const byteKit: ModeKit<ByteSpec> = {
  name: 'byte',
  objectMode: false,
  chunkArb: byteSpecArb,
  make(spec, trace) {
    if (spec.form === 'string') {
      let text = '';
      for (let i = 0; i < spec.bytes; i++) text += String.fromCharCode(97 + (trace.nextValue++ % 26));
      return { chunk: text, expected: Buffer.from(text, 'latin1'), units: spec.bytes };
    }
    const bytes = spec.form === 'buffer' ? Buffer.allocUnsafe(spec.bytes) : new Uint8Array(spec.bytes);
    for (let i = 0; i < spec.bytes; i++) bytes[i] = trace.nextValue++ & 0xff;
    return { chunk: bytes, expected: Buffer.from(bytes), units: spec.bytes };
  },
};

const objectKit: ModeKit<ItemSpec> = {
  name: 'object',
  objectMode: true,
  chunkArb: itemSpecArb,
  make(spec, trace) {
    const item = itemOf(spec, trace);
    return { chunk: item, expected: item, units: 1 };
  },
};

function itemOf(spec: ItemSpec, trace: Trace): unknown {
  switch (spec) {
    case 'object':
      return { id: trace.nextValue++ };
    case 'undefined':
      return undefined;
    case 'zero':
      return 0;
    case 'false':
      return false;
    case 'empty string':
      return '';
    case 'empty buffer':
      return Buffer.alloc(0);
  }
}

// ---- Recording and checking -------------------------------------------------

/** A stretch of units in the written stream: [start, start + units). */
interface Span {
  start: number;
  units: number;
}

/** Everything a run saw, in the order it happened. */
class Trace {
  /** Each chunk, in the order write()/writeV() was called; a group's chunks are consecutive. */
  readonly chunks: Span[] = [];
  /** Each writeV() group, where it starts and its total units. */
  readonly groups: Span[] = [];
  /** Snapshots of what was written (Buffers or items), in call order. */
  readonly written: unknown[] = [];
  /** Units written so far (write()/writeV() called). */
  writtenUnits = 0;
  /** Units delivered: settled by onBatch, or pushed downstream. */
  deliveredUnits = 0;
  /** Batches as the consumer received them. */
  readonly batches: (Buffer | unknown[])[] = [];
  /** Broken promises seen while running (re-entered onBatch, failed write callbacks...). */
  readonly violations: string[] = [];
  /** Source of byte values and object ids, so every run writes distinguishable data. */
  nextValue = 0;
  /** The largest chunk written so far, in units. */
  largestChunk = 0;
  /** Each producer's largest write() or writeV() so far, in units. */
  readonly largestWrite = new Map<object, number>();
  /** Batch size bound of the run. */
  size = 0;
}

/**
 * semantics 12: while producers respect backpressure, the stream holds (not yet
 * delivered) at most the busy batch, size + highWaterMark waiting behind it,
 * and the one write each producer makes before it sees false.
 */
function checkHeld(stream: BatchStream, trace: Trace): void {
  const held = trace.writtenUnits - trace.deliveredUnits;
  let overshoot = 0;
  for (const units of trace.largestWrite.values()) overshoot += units;
  const bound = 2 * Math.max(trace.size, trace.largestChunk) + stream.writableHighWaterMark + overshoot;
  if (held > bound) trace.violations.push(`holds ${held} units undelivered, more than ${bound}`);
}

/** Our two classes, as the producers see them. */
interface BatchStream extends Writable {
  writeV(chunks: readonly unknown[], callback?: (error?: Error | null) => void): boolean;
  flush(): Promise<void>;
}

async function hopAll(hops: readonly Hop[]): Promise<void> {
  for (const hop of hops) {
    if (hop === 'microtask') await Promise.resolve();
    else await nextTurn();
  }
}

function pauseFor(pause: Pause): Promise<void> {
  switch (pause.kind) {
    case 'microtask':
      return Promise.resolve();
    case 'immediate':
      return nextTurn();
    case 'timer':
      return new Promise((resolve) => setTimeout(resolve, pause.ms));
  }
}

/** Hops for the next batch, or null for a consumer that returns at once. */
function delayPicker(delays: Delays): () => Hop[] | null {
  let count = 0;
  return () => (delays === null ? null : delays[count++ % delays.length]);
}

/**
 * Writes specs as one write() or one writeV() group, recording the call
 * order first; waits for 'drain' or the callback when told to.
 */
async function put<C>(
  stream: BatchStream,
  specs: readonly C[],
  asGroup: boolean,
  producer: Producer<C>,
  kit: ModeKit<C>,
  trace: Trace,
): Promise<void> {
  checkHeld(stream, trace);
  const groupStart = trace.writtenUnits;
  const chunks = specs.map((spec) => {
    const { chunk, expected, units } = kit.make(spec, trace);
    trace.chunks.push({ start: trace.writtenUnits, units });
    trace.written.push(expected);
    trace.writtenUnits += units;
    if (units > trace.largestChunk) trace.largestChunk = units;
    return chunk;
  });
  const writeUnits = trace.writtenUnits - groupStart;
  if (writeUnits > (trace.largestWrite.get(producer) ?? 0)) trace.largestWrite.set(producer, writeUnits);
  if (asGroup) trace.groups.push({ start: groupStart, units: trace.writtenUnits - groupStart });
  let called!: () => void;
  const callbackFired = new Promise<void>((resolve) => (called = resolve));
  const callback = (error?: Error | null): void => {
    if (error) trace.violations.push(`write callback failed: ${error.message}`);
    // semantics 6: the writer may reuse its chunk once the callback fired.
    for (const chunk of chunks) if (chunk instanceof Uint8Array) chunk.fill(0xee);
    called();
  };
  const ok = asGroup ? stream.writeV(chunks, callback) : stream.write(chunks[0], callback);
  if (!ok) await (producer.waitFor === 'drain' ? once(stream, 'drain') : callbackFired);
}

async function produce<C>(
  stream: BatchStream,
  producer: Producer<C>,
  kit: ModeKit<C>,
  trace: Trace,
): Promise<void> {
  for (const action of producer.actions) {
    switch (action.op) {
      case 'write':
        await put(stream, [action.chunk], false, producer, kit, trace);
        break;
      case 'writeV':
        await put(stream, action.chunks, true, producer, kit, trace);
        break;
      case 'flush': {
        const target = trace.writtenUnits;
        await stream.flush();
        // semantics 8: resolved only once all written before the call got through.
        if (trace.deliveredUnits < target) {
          trace.violations.push(`flush() resolved with ${trace.deliveredUnits} of ${target} units delivered`);
        }
        break;
      }
      case 'cork':
        // Node's idiom: writes until the next tick reach _writev together.
        stream.cork();
        process.nextTick(() => stream.uncork());
        break;
      case 'pause':
        await pauseFor(action.pause);
        break;
    }
  }
}

/** semantics 2, 3, 6 and 7 over the batches a run delivered. */
function checkBatches(trace: Trace, kit: ModeKit<unknown>, size: number): void {
  expect(trace.violations.join('; '), 'broken promises seen while running').to.equal('');
  const batches = trace.batches;
  // semantics 2: the batches, concatenated, equal the writes in call order.
  if (kit.objectMode) {
    const items: unknown[] = [];
    for (const batch of batches) {
      expect(Array.isArray(batch), 'an object-mode batch is an array').to.equal(true);
      items.push(...(batch as unknown[]));
    }
    expect(items.length, 'items delivered').to.equal(trace.written.length);
    const firstMismatch = items.findIndex((item, i) => !Object.is(item, trace.written[i]));
    expect(firstMismatch, 'first item out of order').to.equal(-1);
  } else {
    for (const batch of batches)
      expect(Buffer.isBuffer(batch), 'a byte-mode batch is a Buffer').to.equal(true);
    const got = Buffer.concat(batches as Buffer[]);
    const want = Buffer.concat(trace.written as Buffer[]);
    expect(got.length, 'bytes delivered').to.equal(want.length);
    expect(got.equals(want), 'bytes delivered in call order, untouched by reuse').to.equal(true);
  }

  // Which batch each unit landed in.
  const batchOf = new Int32Array(trace.writtenUnits);
  const spans: Span[] = [];
  let at = 0;
  batches.forEach((batch, index) => {
    spans.push({ start: at, units: batch.length });
    batchOf.fill(index, at, at + batch.length);
    at += batch.length;
  });
  const landsWhole = (span: Span): boolean => batchOf[span.start] === batchOf[span.start + span.units - 1];

  // semantics 3: 1..size units, the only exception being a lone whole byte chunk.
  spans.forEach((span, index) => {
    expect(span.units, `batch ${index} is empty`).to.be.greaterThan(0);
    if (span.units <= size) return;
    expect(kit.objectMode, `object-mode batch ${index} holds ${span.units} > ${size} items`).to.equal(false);
    const chunk = trace.chunks.find((c) => c.start === span.start && c.units > 0);
    expect(chunk?.units, `batch ${index} of ${span.units} > ${size} bytes is not one whole chunk`).to.equal(
      span.units,
    );
  });
  for (const chunk of trace.chunks) {
    if (chunk.units === 0) continue;
    const index = batchOf[chunk.start];
    if (chunk.units >= size) {
      // semantics 3: a chunk of size bytes or more is handed over alone, whole.
      expect(spans[index], `chunk of ${chunk.units} >= ${size} bytes at ${chunk.start} alone`).to.deep.equal(
        chunk,
      );
    } else {
      expect(landsWhole(chunk), `chunk of ${chunk.units} units at ${chunk.start} split`).to.equal(true);
    }
  }
  // semantics 7: a group of at most size units arrives in one batch.
  for (const group of trace.groups) {
    if (group.units === 0 || group.units > size) continue;
    expect(landsWhole(group), `group of ${group.units} <= ${size} units at ${group.start} split`).to.equal(
      true,
    );
  }
}

// ---- Runners ----------------------------------------------------------------

async function runBatchingWritable<C>(kit: ModeKit<C>, program: Program<C, Delays>): Promise<void> {
  const trace = new Trace();
  trace.size = program.size;
  const nextDelay = delayPicker(program.consumer);
  /** True while onBatch's promise is pending (semantics 4). */
  let active = false;
  const onBatch = (batch: Buffer | unknown[]): void | Promise<void> => {
    if (active) trace.violations.push(`onBatch re-entered at batch ${trace.batches.length}`);
    trace.batches.push(batch);
    const hops = nextDelay();
    if (hops === null) {
      trace.deliveredUnits += batch.length;
      return;
    }
    active = true;
    return hopAll(hops).then(() => {
      active = false;
      trace.deliveredUnits += batch.length;
    });
  };
  const { size, maxDelay, highWaterMark } = program;
  const writable = kit.objectMode
    ? new BatchingWritable<unknown>({ objectMode: true, size, maxDelay, highWaterMark, onBatch })
    : new BatchingWritable({ size, maxDelay, highWaterMark, onBatch });
  // The producers' once('drain') each add a listener.
  writable.setMaxListeners(0);
  let deliveredAtFinish = -1;
  writable.once('finish', () => {
    deliveredAtFinish = trace.deliveredUnits;
    if (active) trace.violations.push("'finish' before the last onBatch settled");
  });
  // BatchingWritable<Buffer> takes byte chunks only; the kit writes what its mode takes.
  const stream = writable as unknown as BatchStream;
  await Promise.all(program.producers.map((producer) => produce(stream, producer, kit, trace)));
  await endOf(writable);
  // semantics 9: everything handed over by 'finish'.
  expect(deliveredAtFinish, "units delivered by 'finish'").to.equal(trace.writtenUnits);
  checkBatches(trace, kit, size);
}

/** Records every batch pushed, and how many batches the readable side held before it. */
class ProbedAsyncBatchStream extends AsyncBatchStream<unknown> {
  onPush: (batch: Buffer | unknown[], queued: number) => void = () => {};

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null) this.onPush(chunk as Buffer | unknown[], this.readableLength);
    return super.push(chunk, encoding);
  }
}

async function runAsyncBatchStream<C>(kit: ModeKit<C>, program: Program<C, Downstream>): Promise<void> {
  const trace = new Trace();
  trace.size = program.size;
  const { size, maxDelay, highWaterMark, consumer } = program;
  const transform = new ProbedAsyncBatchStream({
    size,
    maxDelay,
    highWaterMark,
    // One subclass serves both modes: its item type, unknown, takes bytes too.
    objectMode: kit.objectMode as true,
    readableHighWaterMark: consumer.readableHighWaterMark,
  });
  transform.setMaxListeners(0);
  transform.onPush = (batch, queued) => {
    // Items wait in the open batch while downstream is busy, not in a queue of batches.
    if (queued > transform.readableHighWaterMark) {
      trace.violations.push(
        `pushed with ${queued} batches queued (readableHighWaterMark ${transform.readableHighWaterMark})`,
      );
    }
    trace.deliveredUnits += batch.length;
  };
  const nextDelay = delayPicker(consumer.delays);
  const take = (batch: Buffer | unknown[]): Promise<void> | null => {
    trace.batches.push(batch);
    const hops = nextDelay();
    return hops === null ? null : hopAll(hops);
  };
  const downstream =
    consumer.kind === 'writable'
      ? pipeline(
          transform,
          new Writable({
            objectMode: true,
            highWaterMark: consumer.sinkHighWaterMark,
            write(batch: Buffer | unknown[], _encoding, callback) {
              const delay = take(batch);
              if (delay === null) callback();
              else delay.then(() => callback(), callback);
            },
          }),
        )
      : (async () => {
          for await (const batch of transform) await take(batch);
        })();
  // Awaited below; a failure must not surface as an unhandled rejection first.
  downstream.catch(() => {});
  let deliveredAtFinish = -1;
  transform.once('finish', () => (deliveredAtFinish = trace.deliveredUnits));
  const stream = transform as unknown as BatchStream;
  await Promise.all(program.producers.map((producer) => produce(stream, producer, kit, trace)));
  await endOf(transform);
  await downstream;
  // semantics 19: end() pushes the last partial batch before the writable side finishes.
  expect(deliveredAtFinish, "units pushed by 'finish'").to.equal(trace.writtenUnits);
  checkBatches(trace, kit, size);
}

// ---- Properties ---------------------------------------------------------------

const kits = [byteKit, objectKit] as const;

const PARAMETERS = {
  numRuns: RUNS,
  seed: SEED,
  timeout: RUN_TIMEOUT_MS,
  ...(PATH === undefined ? {} : { path: PATH, endOnFailure: true }),
};

/** The two faces, each with how its consumer is drawn and how a program runs against it. */
const faces: readonly {
  name: string;
  /** What the face does with a batch: hands it to onBatch, or pushes it downstream. */
  verb: string;
  property(kit: ModeKit<unknown>): fc.IAsyncProperty<[unknown]>;
}[] = [
  {
    name: 'BatchingWritable',
    verb: 'delivers',
    property: (kit) =>
      fc.asyncProperty(programArb<unknown, Delays>(kit.chunkArb, delaysArb), (program) =>
        runBatchingWritable(kit, program),
      ),
  },
  {
    name: 'AsyncBatchStream',
    verb: 'pushes',
    property: (kit) =>
      fc.asyncProperty(programArb<unknown, Downstream>(kit.chunkArb, downstreamArb), (program) =>
        runAsyncBatchStream(kit, program),
      ),
  },
];

for (const face of faces) {
  describe(`${face.name} properties`, () => {
    for (const kit of kits) {
      it(`${face.verb} every write once, in call order, in batches of 1..size, groups whole, flushes kept (${kit.name} mode)`, async () => {
        await fc.assert(face.property(kit as ModeKit<unknown>), PARAMETERS);
      }).timeout(SHRINK_TIMEOUT_MS);
    }
  });
}
