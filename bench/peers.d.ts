// Type shims for the bench's peer libraries, which ship no types. Only what
// the bench calls is declared; the streams they return are readable-stream
// (or through2) instances, which pipe like node:stream's.

declare module 'through2-batch' {
  import type { Transform, TransformOptions } from 'node:stream';

  interface Through2BatchOptions extends TransformOptions {
    /** Items per batch; default 10. */
    batchSize?: number;
  }
  type BatchTransform = (
    this: Transform,
    batch: unknown[],
    encoding: BufferEncoding,
    callback: (error?: Error | null, data?: unknown) => void,
  ) => void;
  type FlushFunction = (this: Transform, callback: () => void) => void;

  function through2Batch(
    options?: Through2BatchOptions,
    transform?: BatchTransform,
    flush?: FlushFunction,
  ): Transform;
  namespace through2Batch {
    /** Object mode; without `transform`, each batch is pushed downstream as an array. */
    function obj(
      options?: Through2BatchOptions,
      transform?: BatchTransform,
      flush?: FlushFunction,
    ): Transform;
  }
  export = through2Batch;
}

declare module 'batch-stream' {
  import { Transform } from 'node:stream';

  interface BatchStreamOptions {
    /** Items per batch; default 100. */
    size?: number;
    highWaterMark?: number;
  }
  class BatchStream extends Transform {
    constructor(options?: BatchStreamOptions);
  }
  export = BatchStream;
}

declare module 'stream-batch' {
  import type { Transform } from 'node:stream';

  interface StreamBatchOptions {
    /** ms since the last item before a batch goes; default 100. */
    maxWait?: number;
    /** ms since the first item of a batch before it goes. */
    maxTime?: number;
    /** Items at which a batch goes at once. */
    maxItems?: number;
  }
  function streamBatch(options?: StreamBatchOptions): Transform;
  export = streamBatch;
}

declare module 'bulk-write-stream' {
  import type { Writable, WritableOptions } from 'node:stream';

  type Worker<T> = (batch: T[], callback: (error?: Error | null) => void) => void;
  type Flush = (callback: (error?: Error | null) => void) => void;

  /** A Writable whose `worker` receives every chunk Node buffered meanwhile, at once. */
  function bulk(worker: Worker<Buffer>, flush?: Flush): Writable;
  function bulk(options: WritableOptions, worker: Worker<Buffer>, flush?: Flush): Writable;
  namespace bulk {
    function obj<T>(worker: Worker<T>, flush?: Flush): Writable;
    function obj<T>(options: WritableOptions, worker: Worker<T>, flush?: Flush): Writable;
  }
  export = bulk;
}
