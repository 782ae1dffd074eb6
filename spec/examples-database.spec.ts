import { expect } from 'chai';
import { PGlite } from '@electric-sql/pglite';
import { rowOf, runBulkInsert, type Row } from '../examples/bulk-insert';
import {
  createTable,
  paymentOf,
  runPayments,
  withRetry,
  type Attempt,
  type Payment,
} from '../examples/retry-with-backoff';

// The database examples, run against a real PostgreSQL (PGlite, in this
// process): each table is read back and compared row by row with what the
// handlers wrote. One database for the whole file: starting one takes seconds.

const HANDLERS = 50;
const PER_HANDLER = 20;

/** Every row the handlers write, in (handler, seq) order. */
function allOf<T>(make: (handler: number, seq: number) => T): T[] {
  return Array.from({ length: HANDLERS * PER_HANDLER }, (_, i) =>
    make(Math.floor(i / PER_HANDLER), i % PER_HANDLER),
  );
}

const byId = (a: Payment, b: Payment): number => a.id - b.id;

/** Attempts grouped by batch, in order. */
function attemptsByBatch(attempts: Attempt[]): Map<number, Attempt[]> {
  const batches = new Map<number, Attempt[]>();
  for (const attempt of attempts)
    batches.set(attempt.batch, [...(batches.get(attempt.batch) ?? []), attempt]);
  return batches;
}

describe('examples against a real PostgreSQL (PGlite)', () => {
  let db: PGlite;

  before(async function () {
    // Starting PGlite runs initdb: about 3 s on an idle machine, far more on a busy one.
    this.timeout(120_000);
    db = new PGlite();
    await db.waitReady;
  });

  after(async () => {
    await db?.close();
  });

  describe('bulk-insert.ts', () => {
    it('puts the rows of 50 concurrent handlers in the table exactly once, batched and one INSERT each', async () => {
      const size = 100;
      const result = await runBulkInsert(db, {
        handlers: HANDLERS,
        rowsPerHandler: PER_HANDLER,
        size,
        tables: { batched: 'spec_batched', single: 'spec_single' },
      });
      const expected = allOf(rowOf);
      for (const table of ['spec_batched', 'spec_single']) {
        const { rows } = await db.query<Row>(
          `SELECT handler, seq, payload FROM ${table} ORDER BY handler, seq`,
        );
        expect(rows, table).to.deep.equal(expected);
      }
      // The example's own check agrees.
      expect(result.batched.problems).to.deep.equal([]);
      expect(result.single.problems).to.deep.equal([]);

      // One INSERT per batch, each of 1 to `size` rows; far fewer than one per row.
      const { stats } = result.batched;
      expect(result.batched.statements).to.equal(stats.batches);
      expect(stats.units).to.equal(expected.length);
      expect(stats.largestBatch).to.be.within(2, size);
      expect(stats.batches).to.be.at.least(expected.length / size);
      expect(stats.batches).to.be.below(expected.length / 2);
      expect(result.single.statements).to.equal(expected.length);
    });

    it('with maxBytes and concurrency 4: every row once, no INSERT over the payload limit', async () => {
      const maxBytes = 2048;
      const result = await runBulkInsert(db, {
        handlers: HANDLERS,
        rowsPerHandler: PER_HANDLER,
        size: 100,
        maxBytes,
        concurrency: 4,
        roundTripMs: 1,
        batchedOnly: true,
        tables: { batched: 'spec_limited', single: 'spec_unused' },
      });
      const { rows } = await db.query<Row>(
        'SELECT handler, seq, payload FROM spec_limited ORDER BY handler, seq',
      );
      expect(rows).to.deep.equal(allOf(rowOf));
      expect(result.batched.problems).to.deep.equal([]);
      const { stats } = result.batched;
      // Every payload is below maxBytes, so no batch goes over it.
      expect(stats.largestBatchBytes).to.be.within(1, maxBytes);
      expect(stats.largestBatch).to.be.below(100);
      expect(stats.inFlight).to.equal(0);
    });
  });

  describe('retry-with-backoff.ts', () => {
    it('retries the INSERTs refused with SQLSTATE 40001 until every payment is in the table once', async () => {
      await createTable(db, 'spec_payments');
      const result = await runPayments(db, {
        table: 'spec_payments',
        handlers: HANDLERS,
        paymentsPerHandler: PER_HANDLER,
        size: 100,
      });
      expect(result.error).to.equal(null);
      expect(result.flushError).to.equal(null);
      expect(result.finishError).to.equal(null);
      expect(result.stoppedHandlers).to.equal(0);

      const { rows } = await db.query<Payment>('SELECT id, account, cents FROM spec_payments ORDER BY id');
      expect(rows).to.deep.equal(allOf(paymentOf).sort(byId));

      // The simulation refuses statements 1 and 2 of every 5: the first batch
      // needs three attempts; no batch needs more than three.
      const batches = attemptsByBatch(result.attempts);
      expect(batches.get(1)?.map((attempt) => attempt.outcome)).to.deep.equal(['40001', '40001', 'ok']);
      expect(batches.size).to.equal(result.committed.length);
      for (const [batch, attempts] of batches) {
        expect(
          attempts.map((attempt) => attempt.attempt),
          `batch ${batch}`,
        ).to.deep.equal(attempts.map((_, i) => i + 1));
        expect(attempts.at(-1)?.outcome, `batch ${batch}`).to.equal('ok');
        expect(attempts.length, `batch ${batch}`).to.be.at.most(3);
      }
    });

    it('fails the stream on a constraint violation, with no retry, and keeps the batches committed before it', async () => {
      await createTable(db, 'spec_payments_bad');
      // Batches follow write order and hold at most 100 rows: write 150 is
      // in batch 2 or later, so batch 1 commits. Backpressure holds the
      // handlers to a few hundred writes ahead, so some are still writing
      // when it fails.
      const result = await runPayments(db, {
        table: 'spec_payments_bad',
        handlers: HANDLERS,
        paymentsPerHandler: PER_HANDLER,
        size: 100,
        badWrite: 150,
      });

      // The first error is sticky: the stream emitted it, finished() rejected
      // with that same object, and the final flush() failed too (with it, or
      // with ERR_STREAM_DESTROYED when the stream had failed before the call:
      // docs/semantics.md 10).
      expect(result.error).to.be.instanceOf(Error).and.to.include({ code: '23514' });
      expect(result.finishError).to.equal(result.error);
      if (result.flushError !== result.error) {
        expect(result.flushError).to.include({ code: 'ERR_STREAM_DESTROYED' });
      }
      // Handlers still writing saw their writes fail.
      expect(result.stoppedHandlers).to.be.at.least(1);

      // The failing INSERT was the last one: not retried, and onBatch was not called again.
      expect(result.attempts.at(-1)?.outcome).to.equal('23514');
      expect(result.attempts.filter((attempt) => attempt.outcome === '23514')).to.have.length(1);
      expect(result.failedBatch?.filter((payment) => payment.cents === 0)).to.have.length(1);

      // The table holds exactly the batches committed before, none of the failed one.
      expect(result.committed.length).to.be.at.least(1);
      const { rows } = await db.query<Payment>(
        'SELECT id, account, cents FROM spec_payments_bad ORDER BY id',
      );
      expect(rows).to.deep.equal(result.committed.flat().sort(byId));
      expect(result.committed.flat().every((payment) => payment.cents > 0)).to.equal(true);
    });
  });
});

describe('withRetry (retry-with-backoff.ts)', () => {
  const transient = (): Error => Object.assign(new Error('serialization failure'), { code: '40001' });
  const policy = { attempts: 3, baseMs: 0, capMs: 0 };

  it('gives up after the last attempt, with the last error as it is', async () => {
    const thrown: Error[] = [];
    const failure = await withRetry(async () => {
      thrown.push(transient());
      throw thrown.at(-1);
    }, policy).catch((error: unknown) => error);
    expect(thrown).to.have.length(3);
    expect(failure).to.equal(thrown[2]);
  });

  it('throws a permanent error at once, and stops once told to', async () => {
    let calls = 0;
    const permanent = Object.assign(new Error('check violation'), { code: '23514' });
    const failure = await withRetry(async () => {
      calls++;
      throw permanent;
    }, policy).catch((error: unknown) => error);
    expect([calls, failure]).to.deep.equal([1, permanent]);

    calls = 0;
    await withRetry(
      async () => {
        calls++;
        throw transient();
      },
      policy,
      { stopped: () => true },
    ).catch(() => undefined);
    expect(calls).to.equal(1);
  });

  it('returns the first success, after waits within the doubling bound', async () => {
    const delays: number[] = [];
    let calls = 0;
    const value = await withRetry(
      async () => {
        if (++calls < 4) throw transient();
        return 'stored';
      },
      { attempts: 5, baseMs: 2, capMs: 5 },
      { onRetry: (_error, _attempt, delayMs) => delays.push(delayMs) },
    );
    expect(value).to.equal('stored');
    expect(delays).to.have.length(3);
    [2, 4, 5].forEach((bound, i) => expect(delays[i]).to.be.within(0, bound));
  });
});
