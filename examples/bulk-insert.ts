/**
 * Object mode into a real database: rows written one by one by 50 concurrent
 * "request handlers" reach PostgreSQL as multi-row `INSERT`s, one at a time.
 * Rows written while one is in progress gather in the next batch, so the
 * busier the database, the larger the batches (up to `size` rows). (PGlite
 * runs each statement inside this thread: handlers write between statements,
 * and batches alternate between full and small.)
 *
 * The database is PGlite: PostgreSQL compiled to WebAssembly, running in this
 * process, with no server to install (`@electric-sql/pglite`, a devDependency
 * of this repository, not of the package). The same rows are then inserted the
 * naive way, one `INSERT` per row, into a second table; both tables are
 * checked row for row (every row once, nothing else) and the rows per second
 * of both ways are printed. A second part caps each INSERT's payload
 * (`maxBytes`, `sizeOf`) and runs the batched way against a simulated server
 * round trip with one and with four INSERTs in flight (`concurrency`).
 *
 *   npx ts-node examples/bulk-insert.ts            # 50 handlers x 400 rows, timed both ways
 *   npx ts-node examples/bulk-insert.ts --quick    # 50 x 20, size 100: checks both tables, no speeds
 *
 * `runBulkInsert()` is exported so a spec can run it against its own database.
 */
import os from 'node:os';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { BatchingWritable, type BatchStats } from 'mwsr';

/** One row, as a request handler produces it. */
export interface Row {
  /** Which handler wrote it (0 to handlers - 1). */
  handler: number;
  /** The handler's count: its rows are numbered 0, 1, 2, … */
  seq: number;
  /** A JSON document of 34 to 396 bytes, as an event log holds. */
  payload: string;
}

/** The row handler `handler` writes as its `seq`th: the same every run, so a check can rebuild it. */
export function rowOf(handler: number, seq: number): Row {
  const padding = 'x'.repeat((handler * 31 + seq * 17) % 360);
  return { handler, seq, payload: JSON.stringify({ path: `/items/${handler}/${seq}`, padding }) };
}

/** No primary key on purpose: a row inserted twice would stay, and the check would see it. */
export function createTable(db: PGlite, table: string): Promise<unknown> {
  return db.exec(
    `DROP TABLE IF EXISTS ${table};
     CREATE TABLE ${table} (handler integer NOT NULL, seq integer NOT NULL, payload text NOT NULL)`,
  );
}

/**
 * One multi-row `INSERT` with parameters: `VALUES ($1, $2, $3), ($4, $5, $6), …`.
 * PostgreSQL takes at most 65,535 parameters in a statement: 21,845 rows of 3
 * columns, far above the `size` used here. One statement is atomic: if it
 * fails, none of its rows are in the table.
 */
export async function insertRows(db: PGlite, table: string, rows: Row[]): Promise<void> {
  const values: string[] = [];
  const params: (number | string)[] = [];
  for (const row of rows) {
    const at = params.length;
    values.push(`($${at + 1}, $${at + 2}, $${at + 3})`);
    params.push(row.handler, row.seq, row.payload);
  }
  await db.query(`INSERT INTO ${table} (handler, seq, payload) VALUES ${values.join(', ')}`, params);
}

/** What every row of `table` should be, against what it is: an empty list when they match. */
export async function checkTable(
  db: PGlite,
  table: string,
  handlers: number,
  rowsPerHandler: number,
): Promise<string[]> {
  const { rows } = await db.query<Row>(`SELECT handler, seq, payload FROM ${table} ORDER BY handler, seq`);
  const problems: string[] = [];
  const expected = handlers * rowsPerHandler;
  if (rows.length !== expected) problems.push(`${table}: ${rows.length} rows, expected ${expected}`);
  // Sorted by (handler, seq), row i must be exactly the one expected at i.
  for (let i = 0; i < Math.min(rows.length, expected) && problems.length < 5; i++) {
    const want = rowOf(Math.floor(i / rowsPerHandler), i % rowsPerHandler);
    const got = rows[i];
    if (got.handler !== want.handler || got.seq !== want.seq || got.payload !== want.payload) {
      problems.push(`${table}: row ${i} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  }
  return problems;
}

export interface BulkInsertOptions {
  /** Concurrent request handlers (async functions). Default 50. */
  handlers?: number;
  /** Rows each handler writes. Default 400. */
  rowsPerHandler?: number;
  /** The most rows one `INSERT` takes (the stream's `size`). Default 1000. */
  size?: number;
  /** The two tables, created afresh. Default `events_batched`, `events_single`. */
  tables?: { batched: string; single: string };
  /** The most payload bytes one batched `INSERT` takes (`maxBytes`); default: no limit. */
  maxBytes?: number;
  /** Batched `INSERT`s in flight at once (`concurrency`). Default 1. */
  concurrency?: number;
  /**
   * A network round trip, in ms, added before each batched `INSERT`, as to a
   * server (PGlite runs in this process and has none). Default 0.
   */
  roundTripMs?: number;
  /** Skip the one-`INSERT`-per-row way (its result is then empty). */
  batchedOnly?: boolean;
}

/** How the batched way runs: the BatchingWritable's options, and the simulated network. */
interface BatchedSettings {
  size: number;
  maxBytes?: number;
  concurrency: number;
  roundTripMs: number;
}

/** A row's weight for `maxBytes`: its payload's bytes, as PostgreSQL receives them. */
export const payloadBytes = (row: Row): number => Buffer.byteLength(row.payload);

export interface WayResult {
  table: string;
  rows: number;
  /** `INSERT` statements run. */
  statements: number;
  elapsedMs: number;
  rowsPerSecond: number;
  /** What the table check found; empty when every row is there once and nothing else. */
  problems: string[];
}

export interface BulkInsertResult {
  /** The stream's `size`: the most rows one batched `INSERT` took. */
  size: number;
  batched: WayResult & { stats: BatchStats };
  single: WayResult;
}

/** Rows from `handlers` concurrent handlers, through a BatchingWritable into multi-row INSERTs. */
async function insertBatched(
  db: PGlite,
  table: string,
  handlers: number,
  rowsPerHandler: number,
  { size, maxBytes, concurrency, roundTripMs }: BatchedSettings,
): Promise<{ statements: number; elapsedMs: number; stats: BatchStats }> {
  let statements = 0;
  const started = performance.now();

  const inserter = new BatchingWritable<Row>({
    objectMode: true,
    size, // at most `size` rows per INSERT
    // and, if given, at most `maxBytes` of payload per INSERT
    ...(maxBytes === undefined ? {} : { maxBytes, sizeOf: payloadBytes }),
    // INSERTs in flight at once (default 1: not called again until the
    // INSERT settles). Rows written while all are busy gather into the
    // next batch. The array is ours to keep.
    concurrency,
    onBatch: async (rows) => {
      statements++;
      if (roundTripMs > 0) await sleep(roundTripMs);
      await insertRows(db, table, rows);
    },
  });

  // Each handler writes its rows as its requests come in; when write()
  // returns false it waits, with every other waiting handler, on one ready().
  const work = Array.from({ length: handlers }, async (_, handler) => {
    for (let seq = 0; seq < rowsPerHandler; seq++) {
      if (!inserter.write(rowOf(handler, seq))) await inserter.ready();
    }
  });
  await Promise.all(work);

  // flush() resolves once every row written so far is in the table: a
  // handler that must answer "stored" awaits it. end() does the same, then
  // closes the stream.
  await inserter.flush();
  inserter.end();
  await finished(inserter);
  return { statements, elapsedMs: performance.now() - started, stats: inserter.stats };
}

/** The same rows, the naive way: each handler awaits one INSERT per row. */
async function insertOneByOne(
  db: PGlite,
  table: string,
  handlers: number,
  rowsPerHandler: number,
): Promise<{ statements: number; elapsedMs: number }> {
  let statements = 0;
  const started = performance.now();
  const work = Array.from({ length: handlers }, async (_, handler) => {
    for (let seq = 0; seq < rowsPerHandler; seq++) {
      statements++;
      await insertRows(db, table, [rowOf(handler, seq)]);
    }
  });
  await Promise.all(work);
  return { statements, elapsedMs: performance.now() - started };
}

/** Both ways into fresh tables, each table checked row for row afterwards. */
export async function runBulkInsert(db: PGlite, options: BulkInsertOptions = {}): Promise<BulkInsertResult> {
  const handlers = options.handlers ?? 50;
  const rowsPerHandler = options.rowsPerHandler ?? 400;
  const size = options.size ?? 1000;
  const tables = options.tables ?? { batched: 'events_batched', single: 'events_single' };
  const settings: BatchedSettings = {
    size,
    maxBytes: options.maxBytes,
    concurrency: options.concurrency ?? 1,
    roundTripMs: options.roundTripMs ?? 0,
  };
  const rows = handlers * rowsPerHandler;
  const rate = (elapsedMs: number): number => rows / (elapsedMs / 1000);

  await createTable(db, tables.batched);
  await createTable(db, tables.single);
  const batched = await insertBatched(db, tables.batched, handlers, rowsPerHandler, settings);
  const single = options.batchedOnly
    ? { statements: 0, elapsedMs: NaN }
    : await insertOneByOne(db, tables.single, handlers, rowsPerHandler);
  return {
    size,
    batched: {
      table: tables.batched,
      rows,
      ...batched,
      rowsPerSecond: rate(batched.elapsedMs),
      problems: await checkTable(db, tables.batched, handlers, rowsPerHandler),
    },
    single: {
      table: tables.single,
      rows,
      ...single,
      rowsPerSecond: rate(single.elapsedMs),
      problems: options.batchedOnly ? [] : await checkTable(db, tables.single, handlers, rowsPerHandler),
    },
  };
}

const count = (value: number): string => Math.round(value).toLocaleString('en-US');

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const handlers = 50;
  const rowsPerHandler = quick ? 20 : 400;
  const size = quick ? 100 : 1000;
  const loadBefore = os.loadavg()[0] ?? 0;

  const opening = performance.now();
  const db = new PGlite(); // in memory
  await db.waitReady;
  console.log(
    `PGlite (PostgreSQL in WebAssembly) ready in ${((performance.now() - opening) / 1000).toFixed(1)} s`,
  );

  // The first statements of a fresh database run slower (WebAssembly is
  // still being optimized): an untimed small round first, both ways.
  if (!quick) await runBulkInsert(db, { handlers, rowsPerHandler: 40, size });
  const result = await runBulkInsert(db, { handlers, rowsPerHandler, size });
  await db.close();

  const { batched, single } = result;
  const problems = [...batched.problems, ...single.problems];
  for (const problem of problems) console.log(`PROBLEM: ${problem}`);
  if (problems.length > 0) {
    process.exitCode = 1;
    return;
  }
  console.log(
    `verified: both tables hold every one of the ${count(batched.rows)} rows exactly once, and nothing else`,
  );
  const mean = batched.stats.units / batched.stats.batches;
  console.log(
    `batched: ${count(batched.statements)} INSERTs of up to ${count(result.size)} rows ` +
      `(mean ${mean.toFixed(1)}, largest ${count(batched.stats.largestBatch)})`,
  );
  console.log(`one INSERT per row: ${count(single.statements)} INSERTs`);
  const loadLine =
    `machine: ${os.availableParallelism()} cores, load average ${loadBefore.toFixed(2)} before, ` +
    `${(os.loadavg()[0] ?? 0).toFixed(2)} after (ours included); Node ${process.version}`;
  if (quick) {
    console.log(loadLine);
    console.log('quick mode: the workload is too small to time fairly, so no speeds are shown');
    return;
  }
  console.log(
    `batched: ${count(batched.rowsPerSecond)} rows/s (${(batched.elapsedMs / 1000).toFixed(2)} s); ` +
      `one INSERT per row: ${count(single.rowsPerSecond)} rows/s (${(single.elapsedMs / 1000).toFixed(2)} s); ` +
      `${(batched.rowsPerSecond / single.rowsPerSecond).toFixed(1)}x`,
  );

  // A payload limit per INSERT and several INSERTs in flight, against a
  // server ROUND_TRIP_MS away (simulated: PGlite has no network, and one
  // connection that runs one statement at a time in this thread, so without
  // a round trip to overlap `concurrency` would gain nothing here).
  const db2 = new PGlite();
  await db2.waitReady;
  const limited = { handlers, rowsPerHandler, size, maxBytes: MAX_PAYLOAD, roundTripMs: ROUND_TRIP_MS };
  await runBulkInsert(db2, { ...limited, rowsPerHandler: 40, concurrency: 4, batchedOnly: true }); // warm-up
  for (const concurrency of [1, 4]) {
    const run = await runBulkInsert(db2, { ...limited, concurrency, batchedOnly: true });
    if (run.batched.problems.length > 0) {
      for (const problem of run.batched.problems) console.log(`PROBLEM: ${problem}`);
      process.exitCode = 1;
    }
    const { stats } = run.batched;
    console.log(
      `maxBytes ${count(MAX_PAYLOAD)}, ${ROUND_TRIP_MS} ms round trip, concurrency ${concurrency}: ` +
        `${count(run.batched.rowsPerSecond)} rows/s, ${count(run.batched.statements)} INSERTs ` +
        `(mean ${(stats.units / stats.batches).toFixed(1)} rows), payload per INSERT at most ` +
        `${count(stats.largestBatchBytes)} bytes`,
    );
  }
  await db2.close();
  console.log(loadLine);
}

/** The payload limit of the second part: 32 KiB of JSON per INSERT. */
const MAX_PAYLOAD = 32 * 1024;
/** The simulated network round trip of the second part, in ms. */
const ROUND_TRIP_MS = 5;

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
