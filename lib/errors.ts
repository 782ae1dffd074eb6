import { inspect, types } from 'node:util';

/**
 * An error carrying one of Node's error codes (`ERR_INVALID_ARG_TYPE`, ...) or
 * one of ours (`ERR_MWSR_*`). The classes are Node's own (`TypeError`,
 * `RangeError`, `Error`), so `instanceof` checks written for Node's errors hold.
 */
export type CodedError<E extends Error = Error> = E & {
  /** Node's error code, such as `'ERR_INVALID_ARG_TYPE'`, or ours, such as `'ERR_MWSR_NON_ERROR'`. */
  code: string;
};

// Errors are built fresh by factories, with Node's codes and
// messages; the factory frame is cut from the stack so it points at the caller.
function coded<E extends Error>(
  error: E,
  code: string,
  factory: (...args: never[]) => unknown,
): CodedError<E> {
  Object.defineProperty(error, 'code', {
    value: code,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  Error.captureStackTrace(error, factory);
  return error as CodedError<E>;
}

/**
 * Node 20's way of naming what it got: `Received type number (5)`, worded
 * exactly as its own ERR_INVALID_ARG_TYPE (checked by spec/errors.spec.ts
 * against Node itself), anonymous functions and long values included.
 */
export function describeReceived(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${value.name}`;
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `Received an instance of ${name}` : `Received ${inspect(value, { depth: -1 })}`;
  }
  return `Received type ${typeof value} (${inspect(value, { colors: false })})`;
}

/** `TypeError [ERR_INVALID_ARG_TYPE]`, worded as Node words it. */
export function invalidArgType(name: string, expected: string, actual: unknown): CodedError<TypeError> {
  const kind = name.includes('.') ? 'property' : 'argument';
  return coded(
    new TypeError(`The "${name}" ${kind} must be ${expected}. ${describeReceived(actual)}`),
    'ERR_INVALID_ARG_TYPE',
    invalidArgType,
  );
}

/** `RangeError [ERR_OUT_OF_RANGE]`, worded as Node words it. */
export function outOfRange(name: string, range: string, actual: unknown): CodedError<RangeError> {
  return coded(
    new RangeError(
      `The value of "${name}" is out of range. It must be ${range}. Received ${formatNumber(actual)}`,
    ),
    'ERR_OUT_OF_RANGE',
    outOfRange,
  );
}

/**
 * `TypeError [ERR_INVALID_ARG_VALUE]`, worded as Node words it: an option of
 * the right type that this stream does not take, or a value outside a set.
 */
export function invalidArgValue(name: string, reason: string, actual: unknown): CodedError<TypeError> {
  const kind = name.includes('.') ? 'property' : 'argument';
  return coded(
    new TypeError(`The ${kind} '${name}' ${reason}. Received ${inspect(actual, { depth: 0 })}`),
    'ERR_INVALID_ARG_VALUE',
    invalidArgValue,
  );
}

/** `TypeError [ERR_MISSING_ARGS]`, worded as Node words it: `The "name" argument must be specified`. */
export function missingArgs(name: string): CodedError<TypeError> {
  return coded(new TypeError(`The "${name}" argument must be specified`), 'ERR_MISSING_ARGS', missingArgs);
}

/**
 * `TypeError [ERR_INVALID_RETURN_VALUE]`, as Node words it, with the value
 * itself: a user function returned what the stream cannot use.
 */
export function invalidReturnValue(expected: string, name: string, actual: unknown): CodedError<TypeError> {
  const got = describeReceived(actual).replace(/^Received /, '');
  return coded(
    new TypeError(`Expected ${expected} to be returned from the "${name}" function but got ${got}.`),
    'ERR_INVALID_RETURN_VALUE',
    invalidReturnValue,
  );
}

/**
 * The error a plain `Writable` throws for a chunk of the wrong type in byte
 * mode, rebuilt here so `writeV()` rejects a chunk exactly as `write()` does.
 */
export function invalidChunk(chunk: unknown): CodedError<TypeError> {
  return coded(
    new TypeError(
      'The "chunk" argument must be of type string or an instance of Buffer, TypedArray, or DataView. ' +
        describeReceived(chunk),
    ),
    'ERR_INVALID_ARG_TYPE',
    invalidChunk,
  );
}

/** Node's `ERR_STREAM_NULL_VALUES`, as `write(null)` throws it. */
export function nullChunk(): CodedError<TypeError> {
  return coded(new TypeError('May not write null values to stream'), 'ERR_STREAM_NULL_VALUES', nullChunk);
}

/** Node's `ERR_STREAM_DESTROYED`: `Cannot call flush after a stream was destroyed`. */
export function streamDestroyed(method: string): CodedError {
  return coded(
    new Error(`Cannot call ${method} after a stream was destroyed`),
    'ERR_STREAM_DESTROYED',
    streamDestroyed,
  );
}

/** Node's `ERR_INVALID_STATE`: `Invalid state: <what is wrong>`, an `Error`. */
export function invalidState(message: string): CodedError {
  return coded(new Error(`Invalid state: ${message}`), 'ERR_INVALID_STATE', invalidState);
}

/** Node's `ERR_STREAM_WRITE_AFTER_END`, as `write()` after `end()` gives it. */
export function writeAfterEnd(): CodedError {
  return coded(new Error('write after end'), 'ERR_STREAM_WRITE_AFTER_END', writeAfterEnd);
}

/** Node's `ERR_MULTIPLE_CALLBACK`, as a `Writable` whose write callback runs twice. */
export function multipleCallback(): CodedError {
  return coded(new Error('Callback called multiple times'), 'ERR_MULTIPLE_CALLBACK', multipleCallback);
}

/**
 * What `onBatch` threw or rejected with, as an `Error`: an `Error` is kept as
 * the same object (docs/semantics.md 10), also one made in another realm (a `vm`
 * context), which `instanceof Error` does not see; anything else is wrapped,
 * the value kept as `cause`.
 */
export function asError(reason: unknown): Error {
  if (reason instanceof Error || types.isNativeError(reason)) return reason;
  return coded(
    new Error(`The batch consumer failed with a non-Error value: ${inspect(reason, { depth: 1 })}`, {
      cause: reason,
    }),
    'ERR_MWSR_NON_ERROR',
    asError,
  );
}

function formatNumber(value: unknown): string {
  if (typeof value !== 'number') return inspect(value);
  if (!Number.isInteger(value) || Math.abs(value) < 2 ** 32) return String(value);
  // Node writes large integers with underscores: 9_007_199_254_740_992.
  const sign = value < 0 ? '-' : '';
  const digits = String(Math.abs(value));
  if (digits.includes('e')) return String(value);
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, '_');
}
