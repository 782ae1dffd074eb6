import { expect } from 'chai';
import fc from 'fast-check';
import { withCanary } from './support/canary';
import { CLASSES, MARK, programArb, report, runProgram, type Program } from './support/oracle';

// README, "Ownership": a batch holds exactly the bytes written, never a byte
// more (no uninitialized memory). Fresh memory is marked (Node's Buffer pool
// from its current offset, and every Buffer.allocUnsafe/allocUnsafeSlow made
// while a program runs), so a batch byte the user never wrote shows as a run
// of the marker where Node's own stream delivers other bytes, or none.
// Replay a failure with MWSR_FUZZ_SEED/MWSR_FUZZ_PATH/MWSR_FUZZ_CANARY=1 on
// spec/node-oracle.spec.ts.
const SEED = 0x63616e61;
const RUNS = 150;

async function expectOnlyWrittenBytes(program: Program): Promise<void> {
  const outcome = await withCanary(() => runProgram(program));
  // Only the bytes here: spec/node-oracle.spec.ts compares the rest.
  const bytes = outcome.differences.filter((difference) => difference.startsWith('bytes differ'));
  if (bytes.length > 0) {
    expect.fail(
      `delivers bytes Node's stream does not:\n${report(program, { ...outcome, differences: bytes })}`,
    );
  }
}

function bytesProgram(cls: Program['cls'], defaultEncoding: string, text: string): Program {
  return {
    cls,
    objectMode: false,
    size: 64,
    highWaterMark: undefined,
    emitClose: undefined,
    autoDestroy: undefined,
    defaultEncoding,
    signal: 'none',
    delays: null,
    ops: [
      { op: 'write', chunk: { kind: 'string', text }, encoding: 'omit', callback: 'none' },
      { op: 'writeV', chunks: [{ kind: 'string', text }], callback: 'none' },
    ],
  };
}

describe('Canary: no batch byte the user never wrote', function () {
  this.timeout(120_000);

  it('marks fresh allocUnsafe memory while a program runs, and restores allocUnsafe after', async () => {
    const allocUnsafe = Buffer.allocUnsafe;
    const marked = await withCanary(() => Promise.resolve(Buffer.allocUnsafe(16)));
    expect([...marked]).to.deep.equal(new Array<number>(16).fill(MARK));
    expect(Buffer.allocUnsafe).to.equal(allocUnsafe);
  });

  for (const cls of CLASSES) {
    describe(cls, () => {
      it('delivers 41 42 43 for base64 "QUJD\\n\\n\\n\\n", nothing more', () =>
        expectOnlyWrittenBytes(bytesProgram(cls, 'base64', 'QUJD\n\n\n\n')));

      it('delivers nothing for hex "zz"', () => expectOnlyWrittenBytes(bytesProgram(cls, 'hex', 'zz')));

      it('delivers only written bytes in random byte-mode programs', async () => {
        await fc.assert(
          fc.asyncProperty(programArb(cls, { bytesOnly: true }), (p) => expectOnlyWrittenBytes(p)),
          { seed: SEED, numRuns: RUNS },
        );
      });
    });
  }
});
