/**
 * The long run of the differential fuzzer (spec/support/oracle.ts): random
 * programs against our classes and Node's own streams, compared as users see
 * them. Each program has its own seed, so a failure replays alone:
 *
 *   npm run fuzz                          100000 programs, both classes
 *   npm run fuzz -- --runs 5000 --seed 7  fewer, from another seed
 *   npm run fuzz -- --class AsyncBatchStream --canary
 *   MWSR_FUZZ_SEED=<seed> MWSR_FUZZ_CLASS=<class> npm run spec -- spec/node-oracle.spec.ts
 *
 * Prints programs per second as it goes, each new kind of failure once (shrunk,
 * with its replay command), and a summary.
 */
import fc from 'fast-check';
import {
  CLASSES,
  programArb,
  report,
  runProgram,
  type ClassName,
  type Outcome,
  type Program,
} from '../spec/support/oracle';
import { withCanary } from '../spec/support/canary';

interface Args {
  runs: number;
  seed: number;
  classes: readonly ClassName[];
  canary: boolean;
  /** Failures of one kind printed at most once; at most this many kinds printed per class. */
  maxKinds: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    runs: 100_000,
    seed: Date.now() % 2 ** 31,
    classes: CLASSES,
    canary: false,
    maxKinds: 50,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--runs':
        args.runs = Number(value);
        i++;
        break;
      case '--seed':
        args.seed = Number(value);
        i++;
        break;
      case '--class':
        args.classes = [value as ClassName];
        i++;
        break;
      case '--canary':
        args.canary = true;
        break;
      case '--max-kinds':
        args.maxKinds = Number(value);
        i++;
        break;
      default:
        throw new Error(
          `unknown argument ${argv[i]}; use --runs N --seed S --class C --canary --max-kinds K`,
        );
    }
  }
  if (!Number.isSafeInteger(args.runs) || args.runs < 1) throw new Error('--runs takes a positive integer');
  return args;
}

/** A failure's kind: its first difference with numbers and callback names blurred. */
function kindOf(outcome: Outcome): string {
  const first = outcome.differences[0] ?? '';
  const line = first.split('\n').find((l) => l.includes('≠')) ?? first.split('\n')[0];
  return line
    .replace(/\b(end\w*#\d+[\w/-]*|X|Y|\w*#\d+[\w/-]*)(?=\()/g, (name) =>
      name.startsWith('end') ? 'endcb' : 'cb',
    )
    .replace(/#\d+(\/\w+)?/g, '#n')
    .replace(/\d+/g, 'n')
    .replace(/\s+/g, ' ')
    .trim();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  let lastPrint = started;
  let programs = 0;
  let loose = 0;
  let heldUnderCork = 0;
  /** Programs that differ, of whatever kind (kinds past --max-kinds are counted here only). */
  let failed = 0;
  const failures = new Map<string, { count: number; seed: number; cls: ClassName }>();
  const kindsOf = new Map<ClassName, number>();
  console.log(
    `fuzz: ${args.runs} programs per class, seeds ${args.seed}..${args.seed + args.runs - 1}${args.canary ? ', canary on' : ''}`,
  );
  for (const cls of args.classes) {
    const arbitrary = programArb(cls, { bytesOnly: args.canary });
    for (let i = 0; i < args.runs; i++) {
      const seed = args.seed + i;
      const [program] = fc.sample(arbitrary, { seed, numRuns: 1 });
      const run = (p: Program): Promise<Outcome> =>
        args.canary ? withCanary(() => runProgram(p)) : runProgram(p);
      const outcome = await run(program);
      programs++;
      if (outcome.heldUnderCork) heldUnderCork++;
      else if (outcome.loose) loose++;
      if (outcome.differences.length > 0) {
        failed++;
        const kind = kindOf(outcome);
        const known = failures.get(`${cls}: ${kind}`);
        if (known !== undefined) known.count++;
        else if ((kindsOf.get(cls) ?? 0) < args.maxKinds) {
          kindsOf.set(cls, (kindsOf.get(cls) ?? 0) + 1);
          failures.set(`${cls}: ${kind}`, { count: 1, seed, cls });
          await printShrunk(cls, seed, args.canary, run);
        }
      }
      const now = Date.now();
      if (now - lastPrint > 10_000) {
        lastPrint = now;
        const rate = (programs / ((now - started) / 1000)).toFixed(0);
        console.log(`  ${programs} programs, ${rate}/s, ${failures.size} kinds of failure`);
      }
    }
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `\nsummary: ${programs} programs in ${seconds.toFixed(1)} s (${(programs / seconds).toFixed(0)}/s);` +
      ` ${failed} differ from Node (${((100 * failed) / programs).toFixed(2)}%), ${failures.size} kinds shown;` +
      ` ${loose} compared loosely (backpressure timing), ${heldUnderCork} with a held write kept queued by cork()`,
  );
  for (const [kind, { count, seed }] of failures) console.log(`  ${count}x  seed ${seed}  ${kind}`);
  process.exitCode = failed > 0 ? 1 : 0;
}

/** Shrinks the failing program of `seed` and prints it with its replay command. */
async function printShrunk(
  cls: ClassName,
  seed: number,
  canary: boolean,
  run: (p: Program) => Promise<Outcome>,
): Promise<void> {
  let last: { program: Program; outcome: Outcome } | null = null;
  await fc.check(
    fc.asyncProperty(programArb(cls, { bytesOnly: canary }), async (program) => {
      const outcome = await run(program);
      if (outcome.differences.length === 0) return true;
      last = { program, outcome };
      return false;
    }),
    { seed, numRuns: 1 },
  );
  const env = `MWSR_FUZZ_SEED=${seed} MWSR_FUZZ_CLASS=${cls}${canary ? ' MWSR_FUZZ_CANARY=1' : ''}`;
  console.log(`\nFAIL ${cls} seed ${seed}; replay: ${env} npm run spec -- spec/node-oracle.spec.ts`);
  if (last !== null) {
    const { program, outcome } = last as { program: Program; outcome: Outcome };
    console.log(report(program, outcome).replace(/^/gm, '  '));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 2;
});
