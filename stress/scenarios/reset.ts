/**
 * The peer going away mid-stream: the server (another process) destroys its
 * socket, or resets it (TCP RST), after a random number of bytes, while an
 * endless source is piped through each class into the socket. The error
 * must come out of pipeline(); waiting flush() calls must reject; nothing
 * crashes and nothing hangs.
 */
import { once } from 'node:events';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';
import { Peer } from '../support/peer';
import { FACES, type Batcher, type FaceName } from '../support/rig';
import { ServerAction } from '../support/server';
import {
  Report,
  describe,
  encodeMessage,
  nextTurn,
  randomSource,
  track,
  withDeadline,
  type Outcome,
  type Random,
  type StressOptions,
} from '../support/common';

const ACTIONS = [
  ['destroy', ServerAction.Destroy],
  ['reset', ServerAction.Reset],
] as const;

export async function runReset(options: StressOptions): Promise<Report> {
  const report = new Report('reset: the peer destroys the connection mid-stream');
  const random = randomSource(options.seed ^ 0x4e5e7);
  const repetitions = options.quick ? 2 : 20;
  const codes = new Map<string, number>();
  const peer = await Peer.start(options.seed ^ 0x4e5e7);
  let trials = 0;
  try {
    for (let r = 0; r < repetitions; r++) {
      for (const face of FACES) {
        for (const [actionName, action] of ACTIONS) {
          const label = `${face} ${actionName} #${r}`;
          trials++;
          await withDeadline(trial(face, action, peer, random, report, label, codes), 20_000, label).catch(
            (error: Error) => report.fail(error.message),
          );
        }
      }
    }
  } finally {
    await peer.stop();
  }
  report.figure('trials', trials);
  report.figure(
    'errors out of pipeline()',
    [...codes].map(([code, count]) => `${code} ×${count}`).join(', '),
  );
  return report;
}

async function trial(
  face: FaceName,
  action: ServerAction,
  peer: Peer,
  random: Random,
  report: Report,
  label: string,
  codes: Map<string, number>,
): Promise<void> {
  const afterBytes = random.int(1, 512) * 1024;
  const { socket, id } = await peer.connect({
    producers: 1,
    perProducer: 0,
    action,
    afterBytes,
    pausePerMille: 0,
  });
  const socketErrors: unknown[] = [];
  socket.on('error', (error) => socketErrors.push(error));
  const size = random.pick([256, 4096, 64 * 1024]);
  const source = Readable.from(
    (function* () {
      for (let s = 0; ; s++) yield encodeMessage(0, s);
    })(),
  );
  let stream: Batcher;
  let piped: Promise<void>;
  if (face === 'BatchingWritable') {
    // onBatch waits for the socket to take each batch: its write callback
    // carries the socket's error, which then destroys the stream.
    const w = new BatchingWritable({
      size,
      onBatch: (batch) =>
        new Promise<void>((resolve, reject) => {
          socket.write(batch, (error) => (error ? reject(error) : resolve()));
        }),
    });
    stream = w;
    piped = pipeline(source, w as Writable);
  } else {
    const t = new AsyncBatchStream({ size });
    stream = t;
    piped = pipeline(source, t, socket);
  }
  const outcome = track(piped);
  const flushes: { outcome: Outcome }[] = [];
  // flush() now and then until the error comes.
  while (outcome.outcome.state === 'pending') {
    if (!stream.destroyed && random.chance(0.3)) flushes.push(track(stream.flush()));
    await nextTurn();
  }
  const server = await peer.report(id);
  for (let i = 0; i < 3; i++) await nextTurn();
  if (!socket.destroyed) {
    socket.destroy();
    await once(socket, 'close');
  }

  const fail = (what: string): void => report.fail(`${label}: ${what}`);
  const result = outcome.outcome;
  if (result.state !== 'rejected') fail(`pipeline() ${result.state}, expected the connection's error`);
  else {
    const code = (result.error as { code?: unknown } | null)?.code;
    const name = typeof code === 'string' ? code : describe(result.error);
    codes.set(name, (codes.get(name) ?? 0) + 1);
  }
  if (!stream.destroyed) fail('the stream is not destroyed');
  for (const flush of flushes) {
    if (flush.outcome.state === 'pending') fail('a flush() never settled');
  }
  if (server.ended === 'end') fail(`the server saw a clean end after ${server.bytes} bytes`);
}
