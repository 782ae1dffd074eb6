/**
 * Both classes behind one face for the stress scenarios: a stream, a consumer
 * the scenario supplies, and counts of what the consumer has taken.
 */
import { finished } from 'node:stream/promises';
import { AsyncBatchStream, BatchingWritable } from '../../lib/index';
import type { Item } from './common';

export const FACES = ['BatchingWritable', 'AsyncBatchStream'] as const;
export type FaceName = (typeof FACES)[number];
export const MODES = ['bytes', 'objects'] as const;
export type Mode = (typeof MODES)[number];

export type Batch = Buffer | Item[];

/** The surface both classes share, in either mode (items of `unknown` type take bytes too). */
export type Batcher = BatchingWritable<unknown> | AsyncBatchStream<unknown>;

export interface RigOptions {
  size: number;
  maxDelay?: number;
  highWaterMark?: number;
}

export interface Rig {
  readonly face: FaceName;
  readonly mode: Mode;
  readonly stream: Batcher;
  /**
   * Units (bytes or items) the consumer has taken off the stream: for
   * BatchingWritable once `onBatch` settled, for AsyncBatchStream once read.
   */
  delivered: number;
  batches: number;
  largestBatch: number;
  /** Settles once the consumer has seen the end (or the stream's error). */
  readonly done: Promise<void>;
}

/** Units of a batch: bytes, or items. */
export function unitsOf(batch: Batch): number {
  return batch.length;
}

/**
 * Builds `face` in `mode` with `consume` as its consumer: `onBatch` for
 * BatchingWritable, a `for await` reader for AsyncBatchStream (which reads
 * the next batch only once `consume` settled, so a slow `consume` is a slow
 * downstream).
 */
export function makeRig(
  face: FaceName,
  mode: Mode,
  options: RigOptions,
  consume: (batch: Batch) => void | Promise<void>,
): Rig {
  const common = {
    size: options.size,
    maxDelay: options.maxDelay ?? 0,
    ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
  };
  const rig = {
    face,
    mode,
    delivered: 0,
    batches: 0,
    largestBatch: 0,
  } as Rig & { stream: Batcher; done: Promise<void> };
  const count = (batch: Batch): void => {
    const units = unitsOf(batch);
    rig.delivered += units;
    rig.batches++;
    if (units > rig.largestBatch) rig.largestBatch = units;
  };
  if (face === 'BatchingWritable') {
    const onBatch = async (batch: Batch): Promise<void> => {
      await consume(batch);
      count(batch);
    };
    rig.stream =
      mode === 'bytes'
        ? new BatchingWritable({ ...common, onBatch })
        : new BatchingWritable<Item>({ ...common, objectMode: true, onBatch });
    rig.done = finished(rig.stream);
  } else {
    const stream: AsyncBatchStream<unknown> =
      mode === 'objects'
        ? new AsyncBatchStream({ ...common, objectMode: true })
        : new AsyncBatchStream({ ...common });
    // A batch leaves the stream when read(), a few microtasks before the
    // iterator hands it to the loop below: count it there, or it would look
    // held by the stream in the meantime.
    const read = stream.read.bind(stream);
    stream.read = (n?: number): unknown => {
      const batch = read(n) as Batch | null;
      if (batch !== null) count(batch);
      return batch;
    };
    rig.stream = stream;
    rig.done = (async () => {
      for await (const batch of stream) await consume(batch as Batch);
    })();
  }
  return rig;
}
