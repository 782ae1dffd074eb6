/**
 * A BatchingWritable in front of a net.Socket: many producers write small
 * lines; the socket gets a few large writes instead of one per line.
 *
 *   npx ts-node examples/socket-sink.ts
 */
import { once } from 'node:events';
import net from 'node:net';
import { finished } from 'node:stream/promises';
import { BatchingWritable } from 'mwsr';

const PRODUCERS = 50;
const LINES_PER_PRODUCER = 1000;

async function main(): Promise<void> {
  // A server on 127.0.0.1 that counts what it receives.
  let received = '';
  const server = net.createServer((socket) => {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => (received += text));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');

  let socketWrites = 0;
  const sink = new BatchingWritable({
    size: 16 * 1024, // at most 16 KiB per socket write
    // Called with one Buffer at a time. It is not called again until the
    // promise settles, so lines written meanwhile gather into the next batch.
    onBatch: (batch) =>
      new Promise<void>((resolve, reject) => {
        socketWrites++;
        socket.write(batch, (error) => (error ? reject(error) : resolve()));
      }),
  });

  // Any number of producers at once, each respecting backpressure: when
  // write() returns false, wait with ready() before writing more. All the
  // waiting producers share one promise (one 'drain' listener per producer
  // would make Node warn past 10 of them).
  const producers = Array.from({ length: PRODUCERS }, async (_, id) => {
    for (let line = 0; line < LINES_PER_PRODUCER; line++) {
      if (!sink.write(`producer ${id} line ${line}\n`)) await sink.ready();
    }
  });
  await Promise.all(producers);

  // end() hands over what is left; 'finish' (awaited by finished()) comes once
  // the last onBatch has settled, so everything is in the socket by then.
  sink.end();
  await finished(sink);

  // Close the connection and wait until the server has read the last byte.
  const serverSide = once(socket, 'close');
  socket.end();
  await serverSide;
  server.close();

  const lines = received.split('\n').filter(Boolean).length;
  console.log(
    `${PRODUCERS * LINES_PER_PRODUCER} lines written, ${lines} received, in ${socketWrites} socket writes`,
  );
  if (lines !== PRODUCERS * LINES_PER_PRODUCER) throw new Error('lines went missing');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
