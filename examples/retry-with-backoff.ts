/**
 * Retrying a failed batch is the consumer's call. The stream fails on the
 * first error `onBatch` throws or rejects with, and stays failed with that
 * error (docs/semantics.md 10): so `onBatch` retries what is worth retrying
 * itself, before it gives up.
 *
 * - A transient error (PostgreSQL's serialization failure, deadlock, lock
 *   timeout: the statement lost a race, the same statement may pass a moment
 *   later) is retried after a backoff that doubles each time, with full
 *   jitter, a bounded number of times.
 * - Any other error (here a CHECK constraint violation: the batch itself is
 *   wrong, and will be wrong on every attempt) is thrown at once: the stream
 *   fails with it, `onBatch` is not called again, and the handlers' next
 *   writes fail.
 *
 * Retrying a batch is safe here because it is one `INSERT` statement, which is
 * atomic: when it fails, none of its rows are in the table. And it is
 * idempotent: each payment has its own id, and `ON CONFLICT (id) DO NOTHING`
 * makes a second insert of a row a no-op, for when a commit went through but
 * its answer was lost on the way back (a real server, over a network).
 *
 * The database is PGlite (PostgreSQL in WebAssembly, in this process: a
 * devDependency of this repository). It has one connection and no other
 * client, so nothing here would ever conflict by itself: a trigger SIMULATES
 * a busy server by refusing two of every five INSERT statements with
 * SQLSTATE 40001, as PostgreSQL refuses a serializable transaction that lost
 * a race.
 *
 *   npx ts-node examples/retry-with-backoff.ts            # 50 handlers x 100 payments
 *   npx ts-node examples/retry-with-backoff.ts --quick    # 50 x 20
 *
 * `runPayments()` is exported so a spec can run it against its own database.
 */
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { BatchingWritable } from 'mwsr';

export interface Payment {
  /** Unique: handler * 100,000 + seq. */
  id: number;
  account: string;
  /** Must be positive (a CHECK constraint); the bad payment has 0. */
  cents: number;
}

/** The payment handler `handler` writes as its `seq`th. */
export function paymentOf(handler: number, seq: number): Payment {
  return {
    id: handler * 100_000 + seq,
    account: `account-${handler}`,
    cents: 100 + ((handler * 7 + seq) % 900),
  };
}

/**
 * SQLSTATEs that say "try again": serialization_failure, deadlock_detected,
 * lock_not_available (a lock timeout). Connection errors (class 08) may be
 * transient too, but a commit may have gone through: retry them only with an
 * idempotent statement, as here.
 */
const TRANSIENT = new Set(['40001', '40P01', '55P03']);

export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT.has(code);
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The backoff before the second attempt is up to this many ms; it doubles each time... */
  baseMs: number;
  /** ...up to this many ms. */
  capMs: number;
}

/** At most 5 attempts; waits of up to 10, 20, 40, 80 ms between them. */
export const RETRY: RetryPolicy = { attempts: 5, baseMs: 10, capMs: 1000 };

export interface RetryHooks {
  /** True once nobody waits for the result any more: stop retrying. */
  stopped?: () => boolean;
  /** Called after a transient failure, before the wait. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `attempt` until it succeeds, a permanent error comes, `policy.attempts`
 * are spent, or `stopped()` says nobody waits for the result any more; then
 * rethrows the last error as it is. Between attempts it waits a random time
 * between 0 and min(capMs, baseMs * 2^(n-1)) ms ("full jitter"): writers that
 * failed together do not all come back at the same moment.
 */
export async function withRetry<R>(
  attempt: () => Promise<R>,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
): Promise<R> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTransient(error) || n >= policy.attempts || hooks.stopped?.() === true) throw error;
      const delayMs = Math.random() * Math.min(policy.capMs, policy.baseMs * 2 ** (n - 1));
      hooks.onRetry?.(error, n, delayMs);
      await sleep(delayMs);
    }
  }
}

/** A table of payments, and the SIMULATED contention described at the top. */
export function createTable(db: PGlite, table: string): Promise<unknown> {
  return db.exec(`
    DROP TABLE IF EXISTS ${table};
    DROP SEQUENCE IF EXISTS ${table}_attempts;
    CREATE TABLE ${table} (
      id integer PRIMARY KEY,
      account text NOT NULL,
      cents integer NOT NULL CHECK (cents > 0)
    );
    -- SIMULATION, not part of the pattern: statements 1 and 2 of every 5
    -- fail as a serializable transaction that lost a race fails. nextval()
    -- is not rolled back with the failed statement, so it counts attempts.
    CREATE SEQUENCE ${table}_attempts;
    CREATE FUNCTION ${table}_contention() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('${table}_attempts') % 5 IN (1, 2) THEN
        RAISE EXCEPTION 'could not serialize access due to concurrent update (simulated)'
          USING ERRCODE = 'serialization_failure';
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER ${table}_contention BEFORE INSERT ON ${table}
      FOR EACH STATEMENT EXECUTE FUNCTION ${table}_contention();
  `);
}

/** One multi-row INSERT: atomic, and idempotent thanks to the ids. */
export async function insertPayments(db: PGlite, table: string, payments: Payment[]): Promise<void> {
  const values = payments.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`);
  const params = payments.flatMap((payment) => [payment.id, payment.account, payment.cents]);
  await db.query(
    `INSERT INTO ${table} (id, account, cents) VALUES ${values.join(', ')} ON CONFLICT (id) DO NOTHING`,
    params,
  );
}

export interface PaymentsOptions {
  table: string;
  /** Default 50. */
  handlers?: number;
  /** Default 100. */
  paymentsPerHandler?: number;
  /** Rows per INSERT at most. Default 100. */
  size?: number;
  /**
   * Counting writes from 0 across all handlers, the one that is bad (cents 0):
   * the CHECK constraint refuses it. Default: none.
   */
  badWrite?: number;
}

/** One call of the INSERT inside `onBatch`, and how it ended: 'ok' or the SQLSTATE. */
export interface Attempt {
  batch: number;
  attempt: number;
  outcome: string;
}

export interface PaymentsResult {
  /** Every INSERT tried, in order. */
  attempts: Attempt[];
  /** The batches `onBatch` completed, in order: what the table must hold. */
  committed: Payment[][];
  /** The batch `onBatch` failed on, if any. */
  failedBatch: Payment[] | null;
  /** The error the stream emitted ('error'), or null. */
  error: unknown;
  /**
   * What `flush()` rejected with at the end, or null: the stream's error, or
   * `ERR_STREAM_DESTROYED` when the stream had failed before the call.
   */
  flushError: unknown;
  /** What `finished()` rejected with, or null. */
  finishError: unknown;
  /** Handlers that stopped because a write failed. */
  stoppedHandlers: number;
}

/** 50 handlers write payments through one BatchingWritable whose onBatch retries transient errors. */
export async function runPayments(db: PGlite, options: PaymentsOptions): Promise<PaymentsResult> {
  const { table, badWrite } = options;
  const handlers = options.handlers ?? 50;
  const paymentsPerHandler = options.paymentsPerHandler ?? 100;
  // What happened to each batch, for the checks (not part of the pattern).
  // onBatch runs one batch at a time: the batch at hand is number committed + 1.
  const attempts: Attempt[] = [];
  const committed: Payment[][] = [];
  let failedBatch: Payment[] | null = null;
  const note = (batch: Payment[], outcome: unknown): void => {
    const number = committed.length + 1;
    const attempt = attempts.filter((earlier) => earlier.batch === number).length + 1;
    const code = outcome === 'ok' ? 'ok' : String((outcome as { code?: unknown }).code);
    attempts.push({ batch: number, attempt, outcome: code });
    if (outcome === 'ok') committed.push(batch);
  };

  const stream = new BatchingWritable<Payment>({
    objectMode: true,
    size: options.size ?? 100,
    onBatch: async (batch) => {
      await withRetry(() => insertPayments(db, table, batch), RETRY, {
        // The stream gives onBatch no signal: once it is destroyed (destroy(),
        // an AbortSignal), nobody waits for this batch any more.
        stopped: () => stream.destroyed,
        onRetry: (error) => note(batch, error),
      }).catch((error: unknown) => {
        note(batch, error);
        failedBatch = batch;
        throw error; // the stream fails with it, and stays failed
      });
      note(batch, 'ok');
    },
  });
  let error: unknown = null;
  stream.on('error', (streamError) => (error = streamError));

  let stoppedHandlers = 0;
  let written = 0;
  const work = Array.from({ length: handlers }, async (_, handler) => {
    for (let seq = 0; seq < paymentsPerHandler; seq++) {
      const payment = paymentOf(handler, seq);
      if (written++ === badWrite) payment.cents = 0;
      try {
        if (!stream.write(payment)) await stream.ready();
      } catch {
        // The stream failed (ready() rejects with its error): a real handler
        // answers its client with an error now.
        stoppedHandlers++;
        return;
      }
    }
  });
  await Promise.all(work);

  let flushError: unknown = null;
  try {
    await stream.flush(); // every payment written is in the table, or this throws
    stream.end();
  } catch (flushFailure) {
    flushError = flushFailure;
  }
  // flush() may reject before 'error' is emitted (Node emits it on the next
  // tick); finished() settles after it.
  const finishError = await finished(stream).then(
    () => null,
    (failure: unknown) => failure,
  );
  return { attempts, committed, failedBatch, error, flushError, finishError, stoppedHandlers };
}

/** The table, row by row, against the committed batches: an empty list when they match. */
export async function checkTable(db: PGlite, table: string, expected: Payment[]): Promise<string[]> {
  const { rows } = await db.query<Payment>(`SELECT id, account, cents FROM ${table} ORDER BY id`);
  const want = [...expected].sort((a, b) => a.id - b.id);
  const problems: string[] = [];
  if (rows.length !== want.length) problems.push(`${table}: ${rows.length} rows, expected ${want.length}`);
  for (let i = 0; i < Math.min(rows.length, want.length) && problems.length < 5; i++) {
    const [got, wanted] = [rows[i], want[i]];
    if (got.id !== wanted.id || got.account !== wanted.account || got.cents !== wanted.cents) {
      problems.push(`${table}: row ${i} is ${JSON.stringify(got)}, expected ${JSON.stringify(wanted)}`);
    }
  }
  return problems;
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return `${String(code)} ${String(message)}`;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const handlers = 50;
  const paymentsPerHandler = quick ? 20 : 100;
  const db = new PGlite();
  await db.waitReady;
  const problems: string[] = [];

  // 1. Transient errors only: every batch gets through, some after retries.
  await createTable(db, 'payments');
  const good = await runPayments(db, { table: 'payments', handlers, paymentsPerHandler });
  const retried = good.attempts.filter((attempt) => attempt.outcome !== 'ok').length;
  if (good.error !== null) problems.push(`the stream failed: ${describe(good.error)}`);
  const all = Array.from({ length: handlers * paymentsPerHandler }, (_, i) =>
    paymentOf(Math.floor(i / paymentsPerHandler), i % paymentsPerHandler),
  );
  problems.push(...(await checkTable(db, 'payments', all)));
  console.log(
    `transient errors: ${all.length.toLocaleString('en-US')} payments in ${good.committed.length} batches; ` +
      `${retried} INSERTs failed with SQLSTATE 40001 (simulated) and were retried`,
  );

  // 2. One bad payment: a permanent error fails the stream, with no retry.
  await createTable(db, 'payments_bad');
  const failed = await runPayments(db, {
    table: 'payments_bad',
    handlers,
    paymentsPerHandler,
    badWrite: 150,
  });
  const last = failed.attempts.at(-1);
  if (failed.error === null) problems.push('the bad payment did not fail the stream');
  if (failed.finishError !== failed.error) problems.push('finished() rejected with another error');
  if (last?.outcome !== '23514') problems.push(`the last INSERT ended with ${last?.outcome}, expected 23514`);
  problems.push(...(await checkTable(db, 'payments_bad', failed.committed.flat())));
  console.log(
    `a bad payment: the stream failed with ${describe(failed.error)}, after ${failed.committed.length} ` +
      `batches (${failed.committed.flat().length} payments); ` +
      `${failed.stoppedHandlers} handlers saw their writes fail`,
  );
  await db.close();

  for (const problem of problems) console.log(`PROBLEM: ${problem}`);
  if (problems.length > 0) process.exitCode = 1;
  else {
    console.log(
      'verified, row by row: the first table holds every payment once; the second, the batches ' +
        'committed before the failure and nothing else',
    );
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
