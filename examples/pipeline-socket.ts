/**
 * AsyncBatchStream in a pipeline: a source of small chunks, coalesced into
 * batches of up to 16 KiB, piped into a net.Socket. The socket reads one batch
 * at a time; while it is busy, the next batch fills up.
 *
 *   npx ts-node examples/pipeline-socket.ts
 */
import { once } from 'node:events';
import net from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncBatchStream } from 'mwsr';

const LINES = 20_000;

function* lines(): Generator<string> {
  for (let i = 0; i < LINES; i++) yield `event ${i}\n`;
}

async function main(): Promise<void> {
  // A server on 127.0.0.1 that counts the lines it receives.
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

  // Byte mode: strings and Buffers go in, one Buffer per batch comes out.
  const batcher = new AsyncBatchStream({ size: 16 * 1024 });
  let batches = 0;
  batcher.on('data', () => batches++); // only watching: the pipeline moves the data

  // pipeline() ends the socket when the source is done and destroys every
  // stream if one fails, so there is nothing left to clean up on error.
  const serverSide = once(socket, 'close');
  await pipeline(Readable.from(lines()), batcher, socket);
  await serverSide; // the server has read everything and closed its side
  server.close();

  const count = received.split('\n').filter(Boolean).length;
  console.log(`${LINES} lines written, ${count} received, in ${batches} batches (socket writes)`);
  if (count !== LINES) throw new Error('lines went missing');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
