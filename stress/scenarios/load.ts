/**
 * Load: 10,000 concurrent producers and a slow consumer. Every producer
 * respects backpressure (one shared 'drain' promise per cycle); the data the
 * stream holds, units accepted by write()/writeV() calls minus units the
 * consumer has taken, must stay within the bound of docs/semantics.md 12:
 *
 *   2 × size + highWaterMark + (the largest write) × producers
 *
 * (the batch out with the consumer; up to size + highWaterMark waiting behind
 * it, in the open batch, sealed full ones or Node's queue; and the one write
 * each producer makes before it sees `false`). That bound is loose with
 * 10,000 producers, so the tight form is checked too: at every write, what is
 * held beyond the writes of producers now waiting for 'drain' (each one's
 * write that returned false) stays within 2 × size + highWaterMark. Every
 * message must also arrive exactly once, in per-producer order.
 */
import { FACES, MODES, makeRig, type Batch, type FaceName, type Mode } from '../support/rig';
import {
  Report,
  MESSAGE_BYTES,
  SequenceChecker,
  delay,
  encodeMessage,
  formatMs,
  nextTurn,
  randomSource,
  withDeadline,
  type Item,
  type Random,
  type StressOptions,
} from '../support/common';

const PRODUCERS = 10_000;
/** Most messages in one writeV() group. */
const MAX_GROUP = 4;

export async function runLoad(options: StressOptions): Promise<Report> {
  const report = new Report('load: 10,000 producers, slow consumer');
  const perProducer = options.quick ? 4 : 40;
  const random = randomSource(options.seed ^ 0x10ad);
  for (const face of FACES) {
    for (const mode of MODES) {
      await withDeadline(
        loadOne(face, mode, perProducer, random, report),
        options.quick ? 60_000 : 600_000,
        `load ${face} ${mode}`,
      ).catch((error: Error) => report.fail(error.message));
    }
  }
  return report;
}

async function loadOne(face: FaceName, mode: Mode, perProducer: number, random: Random, report: Report) {
  const started = Date.now();
  const unit = mode === 'bytes' ? MESSAGE_BYTES : 1;
  const size = mode === 'bytes' ? 256 * MESSAGE_BYTES : 256;
  // Node 20's defaults: 16 KiB in byte mode, 16 items in object mode.
  const highWaterMark = mode === 'bytes' ? 16 * 1024 : 16;
  const checker = new SequenceChecker(PRODUCERS, perProducer);
  const consume = (batch: Batch): Promise<void> => {
    if (Buffer.isBuffer(batch)) checker.acceptBytes(batch);
    else for (const item of batch) checker.accept(item.p, item.s);
    // A slow consumer: every batch waits a turn or a timer.
    return random.chance(0.5) ? nextTurn() : delay(random.int(0, 1));
  };
  const rig = makeRig(face, mode, { size, highWaterMark }, consume);
  const stream = rig.stream;
  // ready(): one shared drain promise per cycle, as the README recommends.
  const drain = (): Promise<void> => stream.ready();
  const message = (p: number, s: number): Buffer | Item =>
    mode === 'bytes' ? encodeMessage(p, s) : { p, s };

  let accepted = 0;
  let peakHeld = 0;
  /** Units of the writes that returned false, of producers now waiting for 'drain'. */
  let waitingUnits = 0;
  let peakBeyondWaiting = 0;
  let peakBuffered = 0;
  let drains = 0;
  let groups = 0;
  const observe = (): void => {
    const held = accepted - rig.delivered;
    if (held > peakHeld) peakHeld = held;
    if (held - waitingUnits > peakBeyondWaiting) peakBeyondWaiting = held - waitingUnits;
    if (stream.writableLength > peakBuffered) peakBuffered = stream.writableLength;
  };
  const producer = async (p: number): Promise<void> => {
    let s = 0;
    while (s < perProducer) {
      let ok: boolean;
      let units: number;
      const groupSize = Math.min(perProducer - s, random.int(2, MAX_GROUP));
      if (groupSize >= 2 && random.chance(0.25)) {
        const chunks = [];
        for (let i = 0; i < groupSize; i++) chunks.push(message(p, s++));
        ok = stream.writeV(chunks);
        units = groupSize * unit;
        groups++;
      } else {
        ok = stream.write(message(p, s++));
        units = unit;
      }
      accepted += units;
      if (!ok) waitingUnits += units;
      observe();
      if (!ok) {
        drains++;
        await drain();
        waitingUnits -= units;
      }
    }
  };
  const producers = [];
  for (let p = 0; p < PRODUCERS; p++) producers.push(producer(p));
  await Promise.all(producers);
  stream.end();
  await rig.done;

  const label = `${face} ${mode}`;
  const bound = 2 * size + highWaterMark + PRODUCERS * MAX_GROUP * unit;
  const unitName = mode === 'bytes' ? 'B' : 'items';
  report.check(
    peakHeld <= bound,
    `${label}: held ${peakHeld} ${unitName} at peak, above 2·size + highWaterMark + producers·write = ${bound}`,
  );
  report.check(
    checker.faultCount === 0 && checker.incomplete() === 0 && checker.received === PRODUCERS * perProducer,
    `${label}: ${checker.received} of ${PRODUCERS * perProducer} messages, ${checker.incomplete()} producers incomplete, ` +
      `faults: ${checker.faults.join('; ')}`,
  );
  const tight = 2 * size + highWaterMark;
  report.check(
    peakBeyondWaiting <= tight,
    `${label}: held ${peakBeyondWaiting} ${unitName} beyond the waiting producers' last writes, above 2·size + highWaterMark = ${tight}`,
  );
  report.check(
    rig.largestBatch <= size,
    `${label}: a batch of ${rig.largestBatch} ${unitName}, above size ${size}`,
  );
  report.figure(
    label,
    `${(PRODUCERS * perProducer).toLocaleString('en-US')} msgs in ${formatMs(Date.now() - started)}; ` +
      `peak held ${peakHeld.toLocaleString('en-US')} ${unitName} ` +
      `(bound ${bound.toLocaleString('en-US')}), beyond waiting producers' writes ${peakBeyondWaiting.toLocaleString('en-US')} ` +
      `(bound 2·size+hwm = ${tight.toLocaleString('en-US')}), ` +
      `peak writableLength ${peakBuffered.toLocaleString('en-US')}; ` +
      `${rig.batches} batches, mean ${(checker.received / rig.batches).toFixed(1)} msgs; ` +
      `${drains.toLocaleString('en-US')} waits for drain, ${groups.toLocaleString('en-US')} writeV groups`,
  );
}
