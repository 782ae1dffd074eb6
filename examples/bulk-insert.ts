/**
 * Object mode: rows written one by one by many "request handlers" reach the
 * database as bulk inserts. While one insert is running, new rows gather in
 * the next batch, so the slower the database, the larger the batches.
 *
 * The database here is a fake, in memory: `insertMany` takes 5 ms per call,
 * whatever the number of rows, like the round trip of a real one.
 *
 *   npx ts-node examples/bulk-insert.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { finished } from 'node:stream/promises';
import { BatchingWritable } from 'mwsr';

interface Row {
  user: number;
  action: string;
  at: number;
}

/** A stand-in for a database client with a bulk insert. */
class FakeDatabase {
  readonly rows: Row[] = [];
  readonly insertSizes: number[] = [];

  async insertMany(rows: Row[]): Promise<void> {
    await sleep(5); // one round trip
    this.rows.push(...rows);
    this.insertSizes.push(rows.length);
  }
}

const HANDLERS = 50;
const ROWS_PER_HANDLER = 40;

async function main(): Promise<void> {
  const db = new FakeDatabase();

  const inserter = new BatchingWritable<Row>({
    objectMode: true,
    size: 500, // at most 500 rows per insertMany
    // The array is ours to keep: the library never touches it again.
    onBatch: (rows) => db.insertMany(rows),
  });

  // 50 handlers, each writing a row now and then, as requests come in. Each
  // writes little, so none waits here; a producer that writes a lot waits for
  // 'drain' when write() returns false (see socket-sink.ts). In object mode
  // highWaterMark counts rows (16 by default).
  const handlers = Array.from({ length: HANDLERS }, async (_, user) => {
    for (let i = 0; i < ROWS_PER_HANDLER; i++) {
      inserter.write({ user, action: `click ${i}`, at: Date.now() });
      await sleep(Math.random() * 4); // the next request
    }
  });
  await Promise.all(handlers);

  // flush() waits until everything written so far is in the database; useful
  // before answering a client. end() does the same and closes the stream.
  await inserter.flush();
  console.log(`after flush(): ${db.rows.length} rows in the database`);
  inserter.end();
  await finished(inserter);

  const sizes = db.insertSizes;
  console.log(
    `${HANDLERS * ROWS_PER_HANDLER} rows in ${sizes.length} insertMany calls ` +
      `(rows per call: min ${Math.min(...sizes)}, max ${Math.max(...sizes)}, ` +
      `mean ${(db.rows.length / sizes.length).toFixed(1)})`,
  );
  if (db.rows.length !== HANDLERS * ROWS_PER_HANDLER) throw new Error('rows went missing');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
