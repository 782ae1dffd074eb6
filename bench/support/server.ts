/**
 * The loopback server, run in its own process (forked by bench/run.ts) so the
 * client's CPU figures are the client's alone. For each connection it checks
 * every message (see messages.ts) and, once the client has ended its side,
 * answers with one JSON line: the ServerReport.
 *
 * Started with `fork()`: it sends `{ port }` over IPC once listening, and
 * exits when the parent disconnects.
 */
import { createServer, type Server } from 'node:net';
import { ByteChecker } from './messages';

/** Starts listening on 127.0.0.1 (a free port) and resolves with the server. */
export function startServer(): Promise<Server> {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const checker = new ByteChecker();
    socket.on('data', (piece: Buffer) => checker.push(piece));
    socket.on('end', () => socket.end(`${JSON.stringify(checker.report())}\n`));
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

if (require.main === module) {
  startServer().then(
    (server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      process.send?.({ port: address.port });
      process.on('disconnect', () => process.exit(0));
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
