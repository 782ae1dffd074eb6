export { BatchingWritable } from './batching-writable';
export { AsyncBatchStream } from './async-batch-stream';
export type {
  AsyncBatchStreamOptions,
  BatchingOptions,
  BatchingWritableOptions,
  ByteBatchingWritableOptions,
  ByteChunk,
  Chunk,
  ObjectBatchingWritableOptions,
} from './options';
export type { CodedError } from './errors';
