/**
 * The far end of the socket scenarios, in its own process so it never shares
 * the client's event loop. It listens on 127.0.0.1, tells the parent its port
 * over IPC, and for each connection reads a header, then either checks every
 * message (exactly once, per-producer order, intact) while pausing at random
 * (a consumer with random latency), or destroys the connection after some
 * bytes (the peer going away mid-stream). It reports each connection over IPC.
 */
import { createServer, type Socket } from 'node:net';
import { SequenceChecker, MESSAGE_BYTES, randomSource } from './common';

/** What a connection's first bytes say (little-endian u32s). */
export const HEADER_BYTES = 28;
export const HEADER_MAGIC = 0x6d77_7372; // 'mwsr'

export const ServerAction = {
  /** Check every message, then report when the client ends. */
  Verify: 0,
  /** `socket.destroy()` once `afterBytes` arrived: the client sees EPIPE or ECONNRESET. */
  Destroy: 1,
  /** `socket.resetAndDestroy()` (TCP RST) once `afterBytes` arrived. */
  Reset: 2,
} as const;
export type ServerAction = (typeof ServerAction)[keyof typeof ServerAction];

export interface ConnectionHeader {
  id: number;
  producers: number;
  perProducer: number;
  action: ServerAction;
  afterBytes: number;
  /** Chance, in thousandths, that the server pauses reading after a chunk. */
  pausePerMille: number;
}

export function encodeHeader(header: ConnectionHeader): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES);
  bytes.writeUInt32LE(HEADER_MAGIC, 0);
  bytes.writeUInt32LE(header.id, 4);
  bytes.writeUInt32LE(header.producers, 8);
  bytes.writeUInt32LE(header.perProducer, 12);
  bytes.writeUInt32LE(header.action, 16);
  bytes.writeUInt32LE(header.afterBytes, 20);
  bytes.writeUInt32LE(header.pausePerMille, 24);
  return bytes;
}

function decodeHeader(bytes: Buffer): ConnectionHeader | null {
  if (bytes.readUInt32LE(0) !== HEADER_MAGIC) return null;
  return {
    id: bytes.readUInt32LE(4),
    producers: bytes.readUInt32LE(8),
    perProducer: bytes.readUInt32LE(12),
    action: bytes.readUInt32LE(16) as ServerAction,
    afterBytes: bytes.readUInt32LE(20),
    pausePerMille: bytes.readUInt32LE(24),
  };
}

/** What the server says about one connection when it is over. */
export interface ConnectionReport {
  type: 'connection';
  id: number;
  /** How it ended: the client's end, or the server's destroy/reset. */
  ended: 'end' | 'destroyed' | 'reset' | 'error' | 'close';
  messages: number;
  bytes: number;
  faultCount: number;
  faults: string[];
  incompleteProducers: number;
  pauses: number;
  ms: number;
  serverHeapUsed: number;
}

function serve(socket: Socket, seed: number): void {
  const random = randomSource(seed);
  const started = Date.now();
  let header: ConnectionHeader | null = null;
  let checker: SequenceChecker | null = null;
  let pending = Buffer.alloc(0);
  let bytes = 0;
  let pauses = 0;
  let reported = false;
  const report = (ended: ConnectionReport['ended']): void => {
    if (reported) return;
    reported = true;
    const message: ConnectionReport = {
      type: 'connection',
      id: header?.id ?? -1,
      ended,
      messages: checker?.received ?? 0,
      bytes,
      faultCount: (checker?.faultCount ?? 0) + (pending.length === 0 || ended !== 'end' ? 0 : 1),
      faults: [
        ...(checker?.faults ?? []),
        ...(pending.length !== 0 && ended === 'end'
          ? [`${pending.length} bytes left over: a torn message`]
          : []),
      ],
      incompleteProducers: checker?.incomplete() ?? -1,
      pauses,
      ms: Date.now() - started,
      serverHeapUsed: process.memoryUsage().heapUsed,
    };
    process.send?.(message);
  };
  socket.on('error', () => report('error'));
  socket.on('close', () => report('close'));
  socket.on('end', () => {
    report('end');
    socket.end();
  });
  socket.on('data', (chunk: Buffer) => {
    if (header === null) {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < HEADER_BYTES) return;
      header = decodeHeader(pending);
      if (header === null) {
        socket.destroy();
        return;
      }
      checker = new SequenceChecker(header.producers, header.perProducer);
      chunk = pending.subarray(HEADER_BYTES);
      pending = Buffer.alloc(0);
    }
    bytes += chunk.length;
    if (header.action !== ServerAction.Verify) {
      if (bytes >= header.afterBytes) {
        if (header.action === ServerAction.Reset) {
          report('reset');
          socket.resetAndDestroy();
        } else {
          report('destroyed');
          socket.destroy();
        }
      }
      return;
    }
    // Whole messages go to the checker; a torn tail waits for the next chunk.
    let data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const whole = data.length - (data.length % MESSAGE_BYTES);
    if (whole > 0) (checker as SequenceChecker).acceptBytes(data.subarray(0, whole));
    data = data.subarray(whole);
    pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
    if (header.pausePerMille > 0 && random.int(0, 999) < header.pausePerMille) {
      pauses++;
      socket.pause();
      setTimeout(() => socket.resume(), random.int(0, 3));
    }
  });
}

function main(): void {
  const seed = Number(process.argv[2] ?? 1);
  let connections = 0;
  const server = createServer((socket) => serve(socket, seed + connections++));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
  });
  // The parent closes the channel when it is done: then close and exit.
  process.on('disconnect', () => {
    server.close();
    server.unref();
  });
}

if (require.main === module) main();
