import { expect } from 'chai';
import fc from 'fast-check';
import { AsyncBatchStream } from '../lib/index';
import { withCanary } from './support/canary';
import {
  CLASSES,
  programArb,
  READERS,
  report,
  runProgram,
  type ChunkSpec,
  type ClassName,
  type Op,
  type Program,
} from './support/oracle';

// Random programs of user actions, run on our classes and on Node's own
// Writable/Transform, compared as users see them (docs/node-parity.md lists
// what matches and what deliberately differs).
// A fixed seed keeps the suite deterministic. A failure prints the program,
// its seed and fast-check's path; replay it with
//   MWSR_FUZZ_SEED=<seed> MWSR_FUZZ_PATH=<path> MWSR_FUZZ_CLASS=<class> npm run spec -- spec/node-oracle.spec.ts
// (`npm run fuzz` prints seeds whose first program fails: MWSR_FUZZ_SEED alone
// replays those). MWSR_FUZZ_RUNS sets the programs per class; MWSR_FUZZ_CANARY=1
// runs them with fresh memory marked (spec/canary.spec.ts).
const SEED = process.env.MWSR_FUZZ_SEED === undefined ? 0x6f72636c : Number(process.env.MWSR_FUZZ_SEED);
const RUNS =
  process.env.MWSR_FUZZ_RUNS !== undefined
    ? Number(process.env.MWSR_FUZZ_RUNS)
    : process.env.MWSR_FUZZ_SEED !== undefined && process.env.MWSR_FUZZ_PATH === undefined
      ? 1
      : 250;
const PATH = process.env.MWSR_FUZZ_PATH;
const ONLY_CLASS = process.env.MWSR_FUZZ_CLASS as ClassName | undefined;
const CANARY = process.env.MWSR_FUZZ_CANARY === '1';

/** Runs a program and fails with its report when ours and Node's differ. */
async function expectParity(program: Program): Promise<void> {
  const outcome = CANARY ? await withCanary(() => runProgram(program)) : await runProgram(program);
  if (outcome.differences.length > 0) expect.fail(`differs from Node's stream:\n${report(program, outcome)}`);
}

/** A program with everyday options: bytes, size 8, Node's defaults. */
function program(cls: ClassName, ops: Op[], options: Partial<Program> = {}): Program {
  return {
    cls,
    objectMode: false,
    size: 8,
    highWaterMark: undefined,
    emitClose: undefined,
    autoDestroy: undefined,
    defaultEncoding: undefined,
    signal: 'none',
    delays: null,
    ops,
    ...options,
  };
}

const text = (value: string): { kind: 'string'; text: string } => ({ kind: 'string', text: value });
const item = { kind: 'item', value: 'object' } as const;
const write = (
  chunk: Extract<Op, { op: 'write' }>['chunk'],
  callback: Extract<Op, { op: 'write' }>['callback'] = 'none',
  encoding = 'omit',
): Op => ({ op: 'write', chunk, encoding, callback });
const u16: ChunkSpec = { kind: 'typed', type: 'Uint16Array', bytes: [0, 0] };
const end: Extract<Op, { op: 'end' }> = { op: 'end', chunk: null, encoding: 'omit', callback: 'none' };

describe("Node parity: random programs against Node's own stream", function () {
  this.timeout(120_000);
  for (const cls of CLASSES) {
    if (ONLY_CLASS !== undefined && ONLY_CLASS !== cls) continue;
    it(`${cls} behaves as a plain ${cls === 'BatchingWritable' ? 'Writable' : 'Transform'} in ${RUNS} programs`, async () => {
      await fc.assert(
        fc.asyncProperty(programArb(cls, { bytesOnly: CANARY }), (p) => expectParity(p)),
        { seed: SEED, numRuns: RUNS, path: PATH, endOnFailure: PATH !== undefined },
      );
    });
  }
});

/** One regression program per divergence the oracle found, named after it, for both classes. */
describe('Node parity: divergences found by the oracle', () => {
  for (const cls of CLASSES) {
    describe(cls, () => {
      it('delivers no byte beyond what base64 "QUJD\\n\\n\\n\\n" decodes to (defaultEncoding base64)', () =>
        expectParity(program(cls, [write(text('QUJD\n\n\n\n'))], { defaultEncoding: 'base64' })));

      it('makes no batch of hex "zz" (it decodes to nothing)', () =>
        expectParity(
          program(cls, [write(text('zz'), 'none', 'hex'), write(text('ÿ0'))], { defaultEncoding: 'hex' }),
        ));

      it('calls a shared callback X, then Y, then X for write(a, X); write(buffer, Y); write(c, X)', () =>
        expectParity(
          program(cls, [
            write(text('a'), 'X', 'utf8'),
            write({ kind: 'buffer', bytes: [98] }, 'Y'),
            write(text('c'), 'X', 'utf8'),
          ]),
        ));

      it('calls X, Y, X for cork(); write(1, X); uncork() on both sides of a fast write (object mode)', () =>
        expectParity(
          program(
            cls,
            [
              { op: 'cork' },
              write(item, 'X'),
              { op: 'uncork' },
              write(item, 'Y'),
              { op: 'cork' },
              write(item, 'X'),
              { op: 'uncork' },
            ],
            { objectMode: true },
          ),
        ));

      it('calls X, Y, X around an empty writeV([], Y)', () =>
        expectParity(
          program(cls, [
            write(text('a'), 'X'),
            { op: 'writeV', chunks: [], callback: 'Y' },
            write(text('c'), 'X'),
          ]),
        ));

      it('fails a write made from a write callback after end() (size 1, highWaterMark 1)', () =>
        expectParity(
          program(
            cls,
            [
              write(
                text('first'),
                { then: { op: 'write', chunk: text('late'), encoding: 'omit', callback: 'own' } },
                'utf8',
              ),
              end,
            ],
            { size: 1, highWaterMark: 1 },
          ),
        ));

      it('fails a write made from a corked write callback after end()', () =>
        expectParity(
          program(cls, [
            { op: 'cork' },
            write(text('a'), {
              then: { op: 'write', chunk: text('late'), encoding: 'omit', callback: 'own' },
            }),
            end,
          ]),
        ));

      it('is destroyed with an AbortError by a signal aborted before construction', () =>
        expectParity(program(cls, [write(text('a'), 'X'), { op: 'flush' }], { signal: 'aborted' })));

      it('passes null to a write callback held for the drain', () =>
        expectParity(
          program(cls, [write({ kind: 'buffer', bytes: [1, 2] }, 'own')], { size: 1, highWaterMark: 1 }),
        ));

      it('leaves errored null after destroy() without an error, a write being held', () =>
        expectParity(
          program(cls, [write(text('a')), { op: 'destroy', error: false }], { size: 1, highWaterMark: 0 }),
        ));

      it('calls an empty writeV() callback after a held write callback', () =>
        expectParity(
          program(cls, [write(text('0'), 'X'), { op: 'writeV', chunks: [], callback: 'Y' }], {
            size: 1,
            highWaterMark: 0,
          }),
        ));

      it('calls a held write callback when a write after end() errors the stream (autoDestroy: false)', () =>
        expectParity(
          program(cls, [write(text('a')), write(text('b'), 'Y'), end, write(text('c'))], {
            size: 1,
            highWaterMark: 0,
            autoDestroy: false,
          }),
        ));

      it('settles flush() when a write after end() errors the stream (autoDestroy: false)', () =>
        expectParity(
          program(
            cls,
            [{ op: 'writeV', chunks: [item, item], callback: 'none' }, { op: 'flush' }, end, write(item)],
            {
              objectMode: true,
              size: 1,
              highWaterMark: 0,
              autoDestroy: false,
            },
          ),
        ));

      it('settles ready() when the stream ends before it drains (emitClose: false)', () =>
        expectParity(
          program(cls, [write(item), { op: 'ready' }, end], {
            objectMode: true,
            size: 1,
            highWaterMark: 0,
            emitClose: false,
          }),
        ));

      it('calls a write back with null after Node-path writes and a destroy() in the same tick', () =>
        expectParity(
          program(
            cls,
            [
              { op: 'writeV', chunks: [u16], callback: 'none' },
              write(text('a'), 'Y'),
              write(u16),
              write(text('b'), 'X'),
              { op: 'destroy', error: false },
            ],
            { size: 1 },
          ),
        ));

      it('settles asyncDispose when destroyed with emitClose: false', () =>
        expectParity(
          program(cls, [{ op: 'dispose' }, { op: 'destroy', error: false }], {
            size: 1,
            highWaterMark: 0,
            emitClose: false,
          }),
        ));

      it("fails the end() callback with the stream's first error, not ERR_STREAM_DESTROYED", () =>
        expectParity(
          program(
            cls,
            [
              { ...end, callback: 'X' },
              write({ kind: 'buffer', bytes: [] }),
              { op: 'destroy', error: false },
            ],
            {
              size: 1,
              highWaterMark: 0,
              autoDestroy: false,
            },
          ),
        ));

      it('leaves the end() callback pending, as Node does, when a write after end() errors a stream autoDestroy: false keeps', () =>
        expectParity(
          program(cls, [{ ...end, callback: 'X' }, write(text('QUJD'))], {
            size: 1,
            highWaterMark: 0,
            autoDestroy: false,
          }),
        ));

      for (const how of ['throw', 'reject'] as const) {
        it(`is destroyed with the very Error from another realm its consumer ${how}s`, () =>
          expectParity(
            program(cls, [
              { op: 'sinkWrite', chunk: text('ab'), then: { op: 'fail', error: 'foreign error', how } },
              { op: 'flush' },
            ]),
          ));
      }

      it('fails end(cb) after destroy() while a write callback is due', () =>
        expectParity(
          program(cls, [
            write(text('a'), 'own'),
            { op: 'destroy', error: false },
            { ...end, callback: 'own' },
          ]),
        ));

      it('fails end(cb) after destroy() while a held write callback is due, before close', () =>
        expectParity(
          program(
            cls,
            [
              write({ kind: 'buffer', bytes: [0, 0] }, 'own'),
              { op: 'destroy', error: false },
              { ...end, callback: 'own' },
            ],
            { size: 1, highWaterMark: 1 },
          ),
        ));

      it('leaves end(chunk, cb) pending when a later write errors a stream autoDestroy: false keeps', () =>
        expectParity(
          program(cls, [write(item), { ...end, chunk: item, callback: 'X' }, write(item)], {
            objectMode: true,
            size: 1,
            highWaterMark: 0,
            autoDestroy: false,
          }),
        ));

      it('settles a second asyncDispose on an errored stream autoDestroy: false keeps', () =>
        expectParity(
          program(cls, [{ op: 'dispose' }, write(item), { op: 'dispose' }], {
            objectMode: true,
            size: 1,
            highWaterMark: 0,
            autoDestroy: false,
          }),
        ));

      for (const [path, first] of [
        ['fast', write({ kind: 'buffer', bytes: [0] }, 'X')],
        ["Node's", write(text('00'), 'X', 'hex')],
      ] as const) {
        it(`calls a write callback (${path} path) before a held one written after it, a drain tick being queued`, () =>
          expectParity(
            program(
              cls,
              [
                write(text('0')),
                write({ kind: 'buffer', bytes: [0, 0, 0, 0, 0, 0, 0, 0] }),
                { op: 'wait', hop: 'tick' },
                first,
                { op: 'writeV', chunks: [{ kind: 'buffer', bytes: [0, 0, 0, 0, 0, 0, 0] }], callback: 'Y' },
              ],
              { size: 7, highWaterMark: 1, delays: [[]] },
            ),
          ));
      }

      it('returns what Node returns for writeV() groups under cork() in object mode', () =>
        expectParity(
          program(
            cls,
            [
              { op: 'cork' },
              { op: 'writeV', chunks: [item, item], callback: 'none' },
              { op: 'writeV', chunks: [item, item], callback: 'none' },
              write(item),
              { op: 'writeV', chunks: [], callback: 'none' },
              { op: 'writeV', chunks: [item, item], callback: 'none' },
              write(item),
              { op: 'writeV', chunks: [item, item, item], callback: 'none' },
            ],
            { objectMode: true, size: 1 },
          ),
        ));

      it('leaves end(cb) waiting, as Node does, when a write after end() errors a stream kept alive', () =>
        expectParity(
          program(
            cls,
            [
              { op: 'writeV', chunks: [item], callback: 'none' },
              write(item, { then: { op: 'end', callback: 'none' } }),
              { op: 'wait', hop: 'tick' },
              write(item),
              { op: 'end', chunk: null, encoding: 'undefined', callback: 'own' },
              write(item),
            ],
            { objectMode: true, size: 1, highWaterMark: 0, autoDestroy: false, delays: [[]] },
          ),
        ));

      it('calls a released callback, in its place, when destroyed before its drain tick ran', () =>
        expectParity(
          program(
            cls,
            [
              {
                op: 'writeV',
                chunks: [
                  { kind: 'view', bytes: [0], offset: 0 },
                  { kind: 'buffer', bytes: [0, 0] },
                ],
                callback: 'own',
              },
              { op: 'wait', hop: 'tick' },
              { op: 'writeV', chunks: [], callback: 'own' },
              { op: 'destroy', error: false },
            ],
            { size: 1, highWaterMark: 1, delays: [[]] },
          ),
        ));

      it('leaves a flush() waiting for what Node holds under a cork() made after end()', () =>
        expectParity(
          program(
            cls,
            [
              write(item, 'none', 'utf8'),
              { op: 'end', chunk: { kind: 'item', value: 'string' }, encoding: 'omit', callback: 'none' },
              { op: 'cork' },
              write(item, { then: { op: 'write', chunk: item, encoding: 'utf8', callback: 'none' } }, 'utf8'),
              { op: 'flush' },
            ],
            { objectMode: true, size: 1, highWaterMark: 0, autoDestroy: false, maxBytes: 1 },
          ),
        ));

      it("emits one 'drain' per write() that returned false", () =>
        expectParity(
          program(
            cls,
            [
              write(text(''), {
                then: { op: 'writeV', chunks: [{ kind: 'buffer', bytes: [0] }], callback: 'none' },
              }),
              write({ kind: 'buffer', bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0] }, 'none', 'utf8'),
              write(text('00==00'), 'none', 'ucs-2'),
              {
                op: 'writeV',
                chunks: [
                  { kind: 'buffer', bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
                  { kind: 'buffer', bytes: [0] },
                ],
                callback: 'none',
              },
              { op: 'writeV', chunks: [text('0ÿ00'), text('00000')], callback: 'Y' },
            ],
            { size: 42, highWaterMark: 1 },
          ),
        ));
    });
  }
});

describe("Node parity: AsyncBatchStream's readable side, read every way", () => {
  const cls = 'AsyncBatchStream';
  const obj = { kind: 'item', value: 'object' } as const;

  for (const reader of READERS) {
    it(`matches Node with a ${reader} reader that reads, pauses and resumes between writes`, () =>
      expectParity(
        program(
          cls,
          [
            write(text('ab'), 'X'),
            { op: 'pause' },
            write(text('cd'), 'Y'),
            { op: 'wait', hop: 'immediate' },
            { op: 'read', all: false },
            { op: 'resume' },
            write(text('ef'), 'X'),
            { op: 'read', all: true },
            { op: 'wait', hop: 'settle' },
            { op: 'sinkWrite', chunk: text('gh'), then: { op: 'end', callback: 'own' } },
          ],
          { size: 2, highWaterMark: 1, reader, delays: [['microtask', 'immediate']] },
        ),
      ));

    it(`is destroyed with an AbortError by a ${reader} reader breaking off`, () =>
      expectParity(
        program(
          cls,
          [write(text('ab'), 'X'), { op: 'sinkWrite', chunk: text('cd'), then: { op: 'break' } }],
          {
            reader,
          },
        ),
      ));
  }

  it("reads no empty string after setEncoding('utf8') when a batch ends inside a character", () =>
    expectParity(
      program(cls, [write(text('zz'), 'none', 'base64'), write(text('qQ'), 'none', 'base64')], {
        size: 1,
        setEncoding: true,
      }),
    ));

  it('takes writableHighWaterMark 0 with readableHighWaterMark 0, as a plain Transform does', () =>
    expectParity(
      program(cls, [write(text('a')), write(text('b'))], {
        size: 1,
        readableHighWaterMark: 0,
        reader: 'paused',
      }),
    ));

  it("ends Node's readable side only once a paused reader's ends (end() with nothing read)", () =>
    expectParity(program(cls, [end], { size: 1, highWaterMark: 0, reader: 'paused' })));

  it("counts Node's readable side ended with ours, though it emits 'end' a tick later (destroy() in between)", () =>
    expectParity(
      program(cls, [end, { op: 'wait', hop: 'tick' }, { op: 'destroy', error: false }], {
        size: 1,
        highWaterMark: 0,
        reader: 'iterator',
      }),
    ));

  it('lets a callback held until a paused reader reads come after the closing end()', () =>
    expectParity(
      program(cls, [{ op: 'writeV', chunks: [obj], callback: 'none' }, write(obj, 'X')], {
        objectMode: true,
        size: 1,
        highWaterMark: 0,
        reader: 'paused',
      }),
    ));

  it('lets a destroy() made by a held callback land after a later end(cb), whose callback ours then calls', () =>
    expectParity(
      program(
        cls,
        [
          { op: 'writeV', chunks: [{ kind: 'buffer', bytes: [0, 0] }], callback: 'none' },
          write(text(''), { then: { op: 'destroy', error: false } }),
          write({ kind: 'buffer', bytes: [0] }),
          { op: 'wait', hop: 'tick' },
          { ...end, callback: 'own' },
        ],
        { size: 1, highWaterMark: 0, reader: 'paused' },
      ),
    ));

  it('counts a shared end() callback X no more often than both call it, on an errored stream kept alive', () =>
    expectParity(
      program(
        cls,
        [
          write(obj),
          write(text(''), { then: { op: 'end', callback: 'none' } }, 'utf8'),
          { op: 'wait', hop: 'tick' },
          write(obj, { then: { op: 'write', chunk: obj, encoding: 'utf8', callback: 'X' } }),
          { ...end, callback: 'X' },
        ],
        { objectMode: true, size: 1, highWaterMark: 0, autoDestroy: false, reader: 'paused', delays: [[]] },
      ),
    ));

  it('notices a readable side that is never pumped again (a broken _read)', async () => {
    const proto = AsyncBatchStream.prototype as unknown as { _read(): void };
    const read = Object.getOwnPropertyDescriptor(proto, '_read') as PropertyDescriptor;
    proto._read = () => {};
    try {
      const outcome = await runProgram(
        program(
          cls,
          [write(text('ab')), { op: 'wait', hop: 'settle' }, write(text('cd')), { op: 'read', all: true }],
          {
            size: 2,
            reader: 'paused',
          },
        ),
      );
      expect(outcome.differences).to.not.deep.equal([]);
    } finally {
      Object.defineProperty(proto, '_read', read);
    }
  });
});
