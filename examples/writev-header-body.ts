/**
 * writeV() keeps a header and its body together. Each batch here stands for
 * one packet sent on its own (a datagram, a WebSocket frame, a queue
 * message): a message cut between two batches would be broken.
 *
 * Many writers send messages of a header and a body at once, twice:
 *   - with writeV([header, body]): a group that fits in `size` always arrives
 *     in one batch, and no other write gets between its chunks;
 *   - with write(header) then write(body): the two may land in different
 *     batches.
 * The consumer parses each batch on its own and counts the batches that
 * would not parse alone.
 *
 *   npx ts-node examples/writev-header-body.ts
 */
import { finished } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BatchingWritable } from 'mwsr';

const WRITERS = 40;
const MESSAGES_PER_WRITER = 50;

/** The header says who sent the message and how long its body is. */
function header(writer: number, body: Buffer): Buffer {
  return Buffer.from(`MSG ${writer} ${body.length}\n`);
}

/** Parses one batch alone; returns the messages in it, or -1 if it cuts one. */
function messagesIn(batch: Buffer): number {
  let offset = 0;
  let messages = 0;
  while (offset < batch.length) {
    const newline = batch.indexOf(0x0a, offset);
    const match = newline < 0 ? null : /^MSG (\d+) (\d+)$/.exec(batch.toString('latin1', offset, newline));
    if (match === null) return -1; // a header cut off, or a body where a header should be
    offset = newline + 1 + Number(match[2]);
    if (offset > batch.length) return -1; // the body goes on in the next batch
    messages++;
  }
  return messages;
}

async function run(useWriteV: boolean): Promise<void> {
  let batches = 0;
  let messages = 0;
  let broken = 0;
  const sink = new BatchingWritable({
    size: 1024,
    // The consumer is slow-ish (one event-loop turn per packet), so writes
    // from many writers pile up into each batch.
    onBatch: async (batch) => {
      batches++;
      const count = messagesIn(batch);
      if (count < 0) broken++;
      else messages += count;
      await nextTurn();
    },
  });
  const writers = Array.from({ length: WRITERS }, async (_, writer) => {
    for (let i = 0; i < MESSAGES_PER_WRITER; i++) {
      const body = Buffer.alloc(20 + ((writer * 7 + i * 13) % 80), 'abcdefghij'[writer % 10]);
      let ready: boolean;
      if (useWriteV) {
        ready = sink.writeV([header(writer, body), body]); // one group: never split
      } else {
        sink.write(header(writer, body));
        ready = sink.write(body);
      }
      // ready(): the 40 writers share one 'drain' promise per drain cycle
      // (40 listeners of their own would trip MaxListenersExceededWarning).
      if (!ready) await sink.ready();
      await nextTurn(); // let the other writers have a go
    }
  });
  await Promise.all(writers);
  sink.end();
  await finished(sink);

  const how = useWriteV ? 'writeV([header, body])   ' : 'write(header), write(body)';
  console.log(
    `${how}: ${batches} batches, ${broken} cut a message in two` +
      (broken === 0 ? `, ${messages} messages all whole` : ''),
  );
  if (useWriteV && (broken !== 0 || messages !== WRITERS * MESSAGES_PER_WRITER)) {
    throw new Error('writeV split a group');
  }
}

async function main(): Promise<void> {
  await run(true);
  await run(false);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
