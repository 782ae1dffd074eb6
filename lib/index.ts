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
export type { BatchStats, WriteCallback } from './batch-core';
export { WorkerChannel } from './worker-channel';
export type { WorkerChannelOptions, WriterEndInfo } from './worker-channel';
export { WorkerWritable } from './worker-writable';
export type { WorkerWritableOptions, WorkerWriterHandle } from './worker-writable';
