/**
 * Soak: millions of messages from many producers through each class into a
 * real loopback socket. The server (another process) pauses at random and
 * the client's consumer adds random latency; the server checks that every
 * message arrives exactly once, intact and in per-producer order. The client
 * samples its heap at intervals: it must stay flat.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { finished, pipeline } from 'node:stream/promises';
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';
import { Peer } from '../support/peer';
import { FACES, type Batcher, type FaceName } from '../support/rig';
import { ServerAction } from '../support/server';
import {
  HeapSampler,
  MESSAGE_BYTES,
  Report,
  delay,
  encodeMessage,
  formatMs,
  nextTurn,
  randomSource,
  withDeadline,
  type Random,
  type StressOptions,
} from '../support/common';
import { formatMB } from '../../tools/support';

/** Heap growth tolerated between the first and last third of the samples. */
const HEAP_TOLERANCE_BYTES = 16 * 2 ** 20;

export async function runSoak(options: StressOptions): Promise<Report> {
  const report = new Report('soak: loopback socket, exactly once, heap flat');
  const messages = options.quick ? 200_000 : 10_000_000;
  const producers = options.quick ? 200 : 1000;
  const peer = await Peer.start(options.seed);
  try {
    for (const face of FACES) {
      await withDeadline(
        soakOne(face, peer, producers, messages / producers, options, report),
        options.quick ? 60_000 : 1_200_000,
        `soak ${face}`,
      ).catch((error: Error) => report.fail(`${face}: ${error.message}`));
    }
  } finally {
    await peer.stop();
  }
  return report;
}

/** The client's consumer latency: mostly none, sometimes a turn, rarely a timer. */
function latency(random: Random): Promise<void> | null {
  const roll = random.next();
  if (roll < 0.02) return delay(random.int(0, 2));
  if (roll < 0.1) return nextTurn();
  return null;
}

/** Writes `batch` to the socket and waits for its buffer to drain if it is full. */
async function sendBatch(socket: Socket, batch: Buffer, random: Random): Promise<void> {
  if (!socket.write(batch)) await once(socket, 'drain');
  const wait = latency(random);
  if (wait) await wait;
}

/** A BatchingWritable whose onBatch writes to `socket`, or an AsyncBatchStream piped into it. */
function connectFace(
  face: FaceName,
  socket: Socket,
  random: Random,
): { stream: Batcher; done: Promise<void> } {
  const size = 64 * 1024;
  if (face === 'BatchingWritable') {
    const stream = new BatchingWritable({ size, onBatch: (batch) => sendBatch(socket, batch, random) });
    return {
      stream: stream,
      done: finished(stream).then(async () => {
        socket.end();
        await finished(socket);
      }),
    };
  }
  const stream = new AsyncBatchStream({ size });
  const withLatency = async function* (batches: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const batch of batches) {
      const wait = latency(random);
      if (wait) await wait;
      yield batch;
    }
  };
  return { stream: stream, done: pipeline(stream, withLatency, socket) };
}

async function soakOne(
  face: FaceName,
  peer: Peer,
  producers: number,
  perProducer: number,
  options: StressOptions,
  report: Report,
): Promise<void> {
  const random = randomSource(options.seed ^ (face === 'BatchingWritable' ? 0x50a1 : 0x50a2));
  const heap = new HeapSampler();
  heap.start(options.quick ? 100 : 200);
  const started = Date.now();
  const { socket, id } = await peer.connect({
    producers,
    perProducer,
    action: ServerAction.Verify,
    afterBytes: 0,
    pausePerMille: 150,
  });
  const { stream, done } = connectFace(face, socket, random);
  // ready(): one shared drain promise per cycle, as the README recommends.
  const drain = (): Promise<void> => stream.ready();
  let groups = 0;
  let drains = 0;
  const producer = async (p: number): Promise<void> => {
    let s = 0;
    while (s < perProducer) {
      let ok: boolean;
      if (random.chance(0.1)) {
        const count = Math.min(perProducer - s, random.int(2, 8));
        const chunks: Buffer[] = [];
        for (let i = 0; i < count; i++) chunks.push(encodeMessage(p, s++));
        ok = stream.writeV(chunks);
        groups++;
      } else {
        ok = stream.write(encodeMessage(p, s++));
      }
      if (!ok) {
        drains++;
        await drain();
      }
    }
  };
  const running: Promise<void>[] = [];
  for (let p = 0; p < producers; p++) running.push(producer(p));
  await Promise.all(running);
  stream.end();
  await done;
  const server = await peer.report(id);
  heap.stop();
  const ms = Date.now() - started;
  const total = producers * perProducer;

  report.check(server.ended === 'end', `${face}: the server saw the connection end by '${server.ended}'`);
  report.check(
    server.messages === total && server.faultCount === 0 && server.incompleteProducers === 0,
    `${face}: the server got ${server.messages} of ${total} messages, ${server.incompleteProducers} producers ` +
      `incomplete, ${server.faultCount} faults: ${server.faults.join('; ')}`,
  );
  report.check(
    server.bytes === total * MESSAGE_BYTES,
    `${face}: ${server.bytes} bytes, expected ${total * MESSAGE_BYTES}`,
  );
  const { first, last, peak } = heap.growth();
  report.check(
    last <= first * 1.25 + HEAP_TOLERANCE_BYTES,
    `${face}: heap grew from ${formatMB(first)} MB to ${formatMB(last)} MB (median of the first and last third of ${heap.samples.length} samples)`,
  );
  report.figure(
    face,
    `${total.toLocaleString('en-US')} msgs (${formatMB(total * MESSAGE_BYTES)} MB) from ${producers} producers in ${formatMs(ms)} ` +
      `(${Math.round(total / (ms / 1000)).toLocaleString('en-US')} msgs/s); server verified ${server.messages.toLocaleString('en-US')}, ` +
      `${server.faultCount} faults, paused ${server.pauses} times; ${groups.toLocaleString('en-US')} writeV groups, ` +
      `${drains.toLocaleString('en-US')} waits for drain`,
  );
  report.figure(
    `${face} heap`,
    `${heap.samples.length} samples: first third ${formatMB(first)} MB, last third ${formatMB(last)} MB, peak ${formatMB(peak)} MB; ` +
      `server heap at end ${formatMB(server.serverHeapUsed)} MB`,
  );
}
