/**
 * `npm run mutate`: breaks the batching core, its write fast path and the two
 * faces (lib/face.ts, lib/batching-writable.ts, lib/async-batch-stream.ts) on purpose, one
 * way at a time, and checks that the specs notice. For each mutation: copy the
 * repository (without .git; node_modules symlinked) to a temporary directory,
 * replace exact pieces of the file it names there (lib/batch-core.ts unless
 * it names another; failing loudly if that text is no longer in the file, so
 * mutations cannot rot silently), run the core's specs there with --bail, and
 * report caught or MISSED. The working tree is never touched.
 *
 *   npm run mutate                     every mutation
 *   npm run mutate -- --only=a,b       some, by name
 *   npm run mutate -- --jobs=2         mutations run at once (default 1)
 *   npm run mutate -- --with-stress    also run spec/stress.spec.ts (slower)
 *   npm run mutate -- --check          only check that every target is in its file
 *
 * Specs that already fail without any mutation (known bugs) are left out of
 * every run (mocha --grep ... --invert), so they cannot count as catches.
 * Exits 1 if a mutation is missed or a target text is missing.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';

const ROOT = join(__dirname, '..');
const CORE = 'lib/batch-core.ts';
const WRITABLE = 'lib/batching-writable.ts';
const TRANSFORM = 'lib/async-batch-stream.ts';
const ACCUMULATORS = 'lib/accumulators.ts';
const FACE = 'lib/face.ts';

interface Mutation {
  name: string;
  /** The file the edits apply to, relative to the repository; lib/batch-core.ts when left out. */
  file?: string;
  /** Exact replacements in `file` (or the edit's own); each `from` must occur exactly once. */
  edits: { from: string; to: string; file?: string }[];
}

function fileOf(mutation: Mutation, edit?: { file?: string }): string {
  return edit?.file ?? mutation.file ?? CORE;
}

/*
 * Left out as equivalent (no spec can tell):
 * - A face's `_destroy` not destroying the core. Node destroys a stream only
 *   through `stream.destroy()` (errorOrDestroy, autoDestroy, addAbortSignal,
 *   pipeline), which the face overrides to destroy the core first; `_destroy`
 *   then finds it destroyed. Only `Writable.prototype.destroy.call(stream)`
 *   would tell, which no user writes.
 * - `_final` (the core's end()) not closing the fast path, or not
 *   recomputing the hot path's test: the face's end() has closed both
 *   already (endCalled), and Node runs _final only after end().
 * - A Node write not closing the fast path's shared callback tick
 *   (#callbackNode's `#dueCallbacks = null`): while Node's callback tick is
 *   pending a write with a callback takes Node's path (#mayTakeCallback),
 *   and a held Node write closes the fast path until after that tick, so
 *   no later fast write can join the earlier tick either way.
 * - A face's `destroy()` calling the core whether or not the stream is
 *   already destroyed: the core's destroy() returns at once the second time.
 * - Closing the write fast path when it could stay open (always corked,
 *   Node's callback tick always pending): Node's own path then takes the
 *   write, with the same outcome, only slower. Those below (uncork() leaving
 *   the core corked, Node's callback tick kept pending) are caught by
 *   counting Node's `_write`/`_writev` calls (spec/node-parity.spec.ts, 'the
 *   write fast path opens again'); the bench sees any other.
 */
const MUTATIONS: Mutation[] = [
  {
    name: 'leave end(callback) after destroy() to Node (it may never call it)',
    edits: [
      {
        from: 'const taken = takeEndCallback(this.#host.stream, chunk, encoding, callback);',
        to: 'const taken = null;',
      },
    ],
  },
  {
    name: "pass on Node's early 'drain' (a second one for the same false)",
    file: FACE,
    edits: [{ from: "      if (event === 'drain' && !coreOf(this).drainPasses()) return false;\n", to: '' }],
  },
  {
    name: 'do not pump once an errored stream frees a consumer',
    edits: [
      { from: '    this.#queueTick(); // a consumer waiting on a readable side may be free now\n', to: '' },
    ],
  },
  {
    name: 'AsyncBatchStream: an errored readable side still holds the core back',
    file: TRANSFORM,
    edits: [
      {
        from: 'canTakeBatch: () => (!this.#downstreamFull && this.#pipePending === 0) || this.errored !== null,',
        to: 'canTakeBatch: () => !this.#downstreamFull && this.#pipePending === 0,',
      },
    ],
  },
  {
    name: 'split a group that fits',
    edits: [
      {
        from: 'if (total <= this.#size && length > 0 && length + total > this.#size) this.#shelve();',
        to: '',
      },
    ],
  },
  {
    name: 'drop the last partial batch on end',
    edits: [
      {
        from: "this.#phase = 'ending';",
        to:
          "this.#phase = 'ending';\n" +
          '    if (this.#accumulator.length > 0 && this.#accumulator.length < this.#size) {\n' +
          '      const count = this.#openCount();\n' +
          '      this.#accumulator.take();\n' +
          '      this.#handedOverCount += count;\n' +
          '      this.#settledCount += count;\n' +
          '      this.#openMarkers = 0;\n' +
          '    }',
      },
    ],
  },
  {
    name: 'call onBatch while it is busy',
    edits: [
      {
        from: "while (this.#phase !== 'destroyed' && !this.#busy && this.#host.canTakeBatch()) {",
        to: "while (this.#phase !== 'destroyed' && this.#host.canTakeBatch()) {",
      },
    ],
  },
  {
    name: 'skip the held callback of a write that returned false',
    edits: [
      {
        from: '      // our state is consistent here.\n      callback(null);',
        to: '      // our state is consistent here.\n      void callback;',
      },
    ],
  },
  {
    name: 'skip the held write callbacks on destroy',
    edits: [
      {
        from: '    for (const callback of held) callback(error);\n',
        to: '',
      },
    ],
  },
  {
    name: 'fill the open batch on the fast path (its hand-over then waits for the next turn)',
    edits: [
      {
        file: ACCUMULATORS,
        from: 'end > storage.length || end >= this.#size)',
        to: 'end > storage.length || end > this.#size)',
      },
    ],
  },
  {
    name: 'hand over a batch one unit over size',
    edits: [
      {
        from: 'if (length + units <= this.#size) return;',
        to: 'if (length + units <= this.#size + 1) return;',
      },
      {
        file: ACCUMULATORS,
        from: 'end > storage.length || end >= this.#size)',
        to: 'end > storage.length || end >= this.#size + 2)',
      },
    ],
  },
  {
    name: 'swallow an error onBatch throws',
    edits: [
      {
        from: '      this.#fail(error);\n      return;',
        to: '      void error;\n      this.#settle();\n      return;',
      },
    ],
  },
  {
    name: 'swallow a rejection of onBatch',
    edits: [
      {
        from: '    this.#inFlight--;\n    this.#fail(reason);\n',
        to: '    this.#onSettled();\n',
      },
    ],
  },
  {
    name: 'leave waiting flush() calls pending on destroy',
    edits: [
      { from: "for (const waiter of waiters) waiter.reject(error ?? streamDestroyed('flush'));", to: '' },
    ],
  },
  {
    name: 'resolve flush() once handed over, before onBatch settled',
    edits: [
      {
        from: 'if (target <= this.#settledCount) return Promise.resolve();',
        to: 'if (target <= this.#handedOverCount) return Promise.resolve();',
      },
      {
        from: 'waiters[done].target <= this.#settledCount',
        to: 'waiters[done].target <= this.#handedOverCount',
      },
    ],
  },
  {
    name: 'leave the full batches out of the count admitted',
    edits: [
      {
        from: 'return this.#handedOverCount + this.#fullCount + this.#openCount();',
        to: 'return this.#handedOverCount + this.#openCount();',
      },
    ],
  },
  {
    name: "resolve flush() before writes still in Node's queue went through",
    edits: [
      {
        from: 'const target = this.#admittedCount() + this.#host.stream.writableLength - this.#nodeHeldCount;',
        to: 'const target = this.#admittedCount();',
      },
    ],
  },
  {
    name: 'let flush() wait for maxDelay',
    edits: [{ from: '      this.#flushTarget > this.#handedOverCount ||\n', to: '' }],
  },
  {
    name: 'let a full batch wait for the next turn or maxDelay',
    edits: [{ from: '      this.#accumulator.length >= this.#size ||\n', to: '' }],
  },
  {
    name: 'let a full batch wait for the next turn or maxDelay',
    edits: [{ from: '      this.#fullBatches.length > 0 ||\n', to: '' }],
  },
  {
    name: 'hand full batches over newest first',
    edits: [
      {
        from: 'const full = this.#fullBatches.length > 0 ? this.#fullBatches.shift() : undefined;',
        to: 'const full = this.#fullBatches.length > 0 ? this.#fullBatches.pop() : undefined;',
      },
    ],
  },
  {
    name: "emit 'finish' before the last batch settled",
    edits: [
      {
        from: 'if (this.#inFlight > 0 || this.#fullBatches.length > 0 || this.#accumulator.length > 0) return;',
        to: 'if (this.#fullBatches.length > 0 || this.#accumulator.length > 0) return;',
      },
    ],
  },
  {
    name: 'leave the maxDelay timer running on destroy',
    edits: [
      {
        from: '    this.#immediate = null;\n    this.#clearDelay();\n  }',
        to: '    this.#immediate = null;\n  }',
      },
    ],
  },
  {
    name: 'pass a non-Error failure on unwrapped',
    edits: [{ from: 'const error = asError(reason);', to: 'const error = reason as Error;' }],
  },
  {
    name: 'let flush() resolve after destroy',
    edits: [
      {
        from: "  flush(): Promise<void> {\n    if (this.#phase === 'destroyed') {",
        to: "  flush(): Promise<void> {\n    if (this.#phase === 'destroyed' && this.#error !== null) {",
      },
    ],
  },
  {
    name: 'hand over from inside write()',
    edits: [
      {
        from: 'if (this.#host.canTakeBatch()) this.#queueTick(); // else _read will pump',
        to: 'if (this.#host.canTakeBatch()) this.#pump();',
      },
    ],
  },
  {
    name: 'keep handing over after destroy',
    edits: [
      {
        from: "while (this.#phase !== 'destroyed' && !this.#busy && this.#host.canTakeBatch()) {",
        to: 'while (!this.#busy && this.#host.canTakeBatch()) {',
      },
    ],
  },
  {
    name: "let the fast path overtake writes in Node's queue behind a held one",
    edits: [
      {
        from: 'return this.#writeOpen && this.#corks === 0 && this.#nodeHeld === null;',
        to: 'return this.#writeOpen && this.#corks === 0;',
      },
      {
        from: '    this.#nodeHeld = callback;\n    this.#refreshFastPath();',
        to: '    this.#nodeHeld = callback;',
      },
    ],
  },
  {
    name: 'leave the hot path open while Node holds a write',
    edits: [
      {
        from: '    this.#nodeHeld = callback;\n    this.#refreshFastPath();',
        to: '    this.#nodeHeld = callback;',
      },
    ],
  },
  {
    name: 'let the fast path ignore cork() (writeV groups)',
    edits: [
      {
        from: 'return this.#writeOpen && this.#corks === 0 && this.#nodeHeld === null;',
        to: 'return this.#writeOpen && this.#nodeHeld === null;',
      },
    ],
  },
  {
    name: 'leave the hot path open while corked',
    edits: [
      {
        from: 'this.#fastBytes = this.#mayBypassNode() ? this.#bytes : null;',
        to: 'this.#fastBytes = this.#writeOpen && this.#nodeHeld === null ? this.#bytes : null;',
      },
    ],
  },
  {
    name: 'let the fast path take writes once ending',
    edits: [
      {
        from: "    this.#phase = 'ending';\n    this.#writeOpen = false;\n    this.#refreshFastPath();",
        to: "    this.#phase = 'ending';",
      },
      // end() has closed it already (endCalled), before Node runs _final.
      {
        from: '    this.#writeOpen = false;\n    this.#refreshFastPath();\n    this.#failReady(writeAfterEnd());',
        to: '    this.#failReady(writeAfterEnd());',
      },
    ],
  },
  {
    name: 'hand the partial batch over a turn late while writers wait for drain',
    edits: [
      {
        from: '          this.#queueTick();\n          break;',
        to: '          if (this.#immediate === null) this.#immediate = setImmediate(this.#onImmediate);\n          break;',
      },
    ],
  },
  {
    name: 'never return false from a fast-path write',
    edits: [
      { from: 'if (this.#backlog() < this.#limit) return true;', to: 'return true;' },
      {
        from: 'const ok = this.#backlog() < this.#quickLimit || this.#okOrOweDrain();',
        to: 'const ok = true;',
      },
    ],
  },
  {
    name: "never emit the core's 'drain'",
    edits: [{ from: "if (!nodeNeedsDrain(stream)) stream.emit('drain');", to: '' }],
  },
  {
    name: 'call a shared callback once per tick instead of once per write',
    edits: [{ from: 'for (let i = 0; i < due.count; i++) due.callback(null);', to: 'due.callback(null);' }],
  },
  {
    name: 'keep joining a shared callback tick after it ran',
    edits: [{ from: 'if (this.#dueCallbacks === due) this.#dueCallbacks = null;', to: '' }],
  },
  {
    name: 'let a fast write from onBatch overtake held callbacks',
    edits: [{ from: 'if (!ok || this.#heldCallbacks.length > 0) {', to: 'if (!ok) {' }],
  },
  {
    name: 'let a Node write from onBatch overtake held callbacks',
    edits: [
      {
        from: 'if (this.#belowLimit(0) && this.#heldCallbacks.length === 0) {',
        to: 'if (this.#belowLimit(0)) {',
      },
    ],
  },
  {
    name: "let writeV()'s fast path jump Node's queue while corked",
    edits: [
      {
        from: '    if (!this.#mayBypassNode() || !this.#mayTakeCallback(callback)) return undefined;\n    if (this.#sizeOf !== null) return this.#tryAdmitGroupWeighed(chunks, callback);\n    const units = this.#groupUnits;',
        to: '    if (!this.#writeOpen || this.#nodeHeld !== null || !this.#mayTakeCallback(callback)) return undefined;\n    if (this.#sizeOf !== null) return this.#tryAdmitGroupWeighed(chunks, callback);\n    const units = this.#groupUnits;',
      },
    ],
  },
  {
    name: 'copy any UTF-8 text as latin1',
    file: ACCUMULATORS,
    edits: [{ from: 'if (bytes === text.length && isUtf8(encoding))', to: 'if (isUtf8(encoding))' }],
  },
  // ---- The write fast path: exact sizes, callback order, end and stop ----
  {
    name: 'size strings in every encoding with Buffer.byteLength',
    edits: [
      {
        from: 'this.#stringEncoding = hasExactByteLength(encoding) ? encoding : null;',
        to: 'this.#stringEncoding = encoding;',
      },
    ],
  },
  {
    name: 'size hex strings as if exact',
    file: ACCUMULATORS,
    edits: [
      {
        from: '/^(ucs-?2|utf-?16le|latin1|binary|ascii)$/i',
        to: '/^(ucs-?2|utf-?16le|latin1|binary|ascii|hex)$/i',
      },
    ],
  },
  {
    name: "let a write with a callback take the fast path while Node's callback tick is pending",
    edits: [{ from: "return !this.#nodeTickPending || typeof callback !== 'function';", to: 'return true;' }],
  },
  {
    name: "never note that Node's callback tick is pending",
    edits: [
      {
        from: '      this.#nodeTickPending = true;\n      this.#releaseClosed = this.#releasing !== null;\n',
        to: '      this.#releaseClosed = this.#releasing !== null;\n',
      },
    ],
  },
  {
    name: "keep Node's callback tick pending after it ran",
    edits: [{ from: '    this.#nodeTickPending = false;\n  };', to: '  };' }],
  },
  {
    name: 'call an empty writeV() back on a tick of its own',
    edits: [
      {
        from: '    if (chunks.length === 1) return stream.write(chunks[0], callback);',
        to:
          '    if (chunks.length === 0 && !stream.writableEnded && !stream.destroyed) {\n' +
          '      if (callback !== undefined) process.nextTick(callback, null);\n' +
          '      return !stream.writableNeedDrain;\n' +
          '    }\n' +
          '    if (chunks.length === 1) return stream.write(chunks[0], callback);',
      },
    ],
  },
  {
    name: "leave an empty group's marker uncounted",
    edits: [
      { from: '    const count = this.#markerCount();\n    if (count === 0) return;', to: '    return;' },
    ],
  },
  {
    name: 'leave the fast path open after end() until _final',
    edits: [
      {
        from: '    this.#writeOpen = false;\n    this.#refreshFastPath();\n    this.#failReady(writeAfterEnd());',
        to: '    this.#failReady(writeAfterEnd());',
      },
    ],
  },
  {
    name: 'leave a waiting ready() pending on end()',
    edits: [
      {
        from: '    this.#refreshFastPath();\n    this.#failReady(writeAfterEnd());',
        to: '    this.#refreshFastPath();',
      },
    ],
  },
  {
    name: 'leave a waiting ready() pending on destroy',
    edits: [{ from: "this.#failReady(this.#error ?? streamDestroyed('ready'));", to: '' }],
  },
  {
    name: 'call held callbacks with undefined instead of null',
    edits: [
      {
        from: '      // our state is consistent here.\n      callback(null);',
        to: '      // our state is consistent here.\n      callback();',
      },
    ],
  },
  {
    name: 'fail held callbacks on destroy with ERR_STREAM_DESTROYED',
    edits: [
      {
        from: 'for (const callback of held) callback(error);',
        to: "for (const callback of held) callback(error ?? streamDestroyed('write'));",
      },
    ],
  },
  {
    name: 'leave waiters pending on a stream errored but kept alive',
    edits: [
      {
        from: "    if (error === null || stream.destroyed || this.#phase === 'destroyed') return;",
        to: '    return;',
      },
    ],
  },
  {
    name: 'complete the end before the ticks queued before end()',
    edits: [
      {
        from: '    process.nextTick(this.#onEndTick, callback);',
        to: '    this.#onEndTick(callback);',
      },
    ],
  },
  {
    name: "call _final's callback on destroy",
    edits: [
      {
        from: '    this.#finalCallback = null;\n    // Held callbacks',
        to: "    if (this.#finalCallback !== null) process.nextTick(this.#finalCallback, error ?? streamDestroyed('end'));\n    this.#finalCallback = null;\n    // Held callbacks",
      },
    ],
  },
  {
    name: 'miscount nested cork() calls',
    edits: [
      { from: 'this.#corks = Math.max(0, this.#corks + delta);', to: 'this.#corks = Math.max(0, delta);' },
    ],
  },
  {
    name: 'let the hot path ignore cork() until something else reopens it',
    edits: [
      {
        from: '    this.#corks = Math.max(0, this.#corks + delta);\n    this.#refreshFastPath();',
        to: '    this.#corks = Math.max(0, this.#corks + delta);',
      },
    ],
  },
  {
    name: 'let the hot path take a Buffer written with an explicit encoding',
    edits: [
      {
        from: '      encoding === undefined &&\n      callback === undefined &&\n      chunk instanceof Uint8Array &&',
        to: '      callback === undefined &&\n      chunk instanceof Uint8Array &&',
      },
    ],
  },
  {
    name: 'let the hot path take a write with a callback',
    edits: [
      {
        from: '      encoding === undefined &&\n      callback === undefined &&\n      chunk instanceof Uint8Array &&',
        to: '      encoding === undefined &&\n      chunk instanceof Uint8Array &&',
      },
    ],
  },
  {
    name: 'take a Buffer with an unknown encoding on the fast path',
    edits: [
      {
        from: "      if (encoding !== undefined && encoding !== 'buffer' && !Buffer.isEncoding(encoding as string))\n        return -1;\n",
        to: '',
      },
    ],
  },
  {
    name: 'encode a string given its own encoding in the default one',
    edits: [
      {
        from: "if (typeof chunk === 'string' && encoding === undefined && this.#stringEncoding !== null)",
        to: "if (typeof chunk === 'string' && this.#stringEncoding !== null)",
      },
    ],
  },
  {
    name: 'join a fast tick of another callback',
    edits: [
      { from: '} else if (due !== null && due.callback === callback) {', to: '} else if (due !== null) {' },
    ],
  },
  {
    name: 'schedule no hand-over after a fast-path write',
    edits: [
      { from: '    if (!this.#busy) this.#scheduleMaybe();\n    const ok', to: '    const ok' },
      {
        from: '    if (!this.#busy && !this.#tickQueued && this.#immediate === null) this.#scheduleMaybe();\n',
        to: '',
      },
    ],
  },
  {
    name: "let a Node write's result ignore the core's backlog",
    edits: [{ from: 'return ok && this.#okOrOweDrain(this.#nodeQueued());', to: 'return ok;' }],
  },
  {
    name: 'count a held Node write twice in the backlog',
    edits: [
      {
        from: 'return this.#host.stream.writableLength - this.#nodeHeldCount;',
        to: 'return this.#host.stream.writableLength;',
      },
    ],
  },
  {
    name: 'let callbacks held later join a drain tick queued before a fast write callback tick',
    edits: [
      {
        from: '      this.#dueTicks++;\n      this.#releaseClosed = this.#releasing !== null;\n',
        to: '      this.#dueTicks++;\n',
      },
    ],
  },
  {
    name: "let callbacks held later join a drain tick queued before Node's callback tick",
    edits: [
      {
        from: '      this.#nodeTickPending = true;\n      this.#releaseClosed = this.#releasing !== null;\n',
        to: '      this.#nodeTickPending = true;\n',
      },
    ],
  },
  {
    name: 'fail the callbacks already on their way out when destroyed',
    edits: [
      {
        from: '    const held = this.#heldCallbacks;\n    this.#heldCallbacks = [];\n    this.#nodeHeld = null;',
        to: '    const held = this.#takeHeld();\n    this.#nodeHeld = null;',
      },
    ],
  },
  {
    name: 'count a call that destroyed the stream from inside as settled (not ended)',
    edits: [
      {
        from: '      if (this.#afterCalls !== null) this.#callGone();\n      else this.#settle(out);',
        to: '      this.#settle(out);',
      },
    ],
  },
  {
    name: 'keep a cross-realm Error only if instanceof Error sees it',
    file: 'lib/errors.ts',
    edits: [
      {
        from: 'if (reason instanceof Error || types.isNativeError(reason)) return reason;',
        to: 'if (reason instanceof Error) return reason;',
      },
    ],
  },

  // ---- The faces' shared surface (lib/face.ts) ---------------------------
  {
    name: 'faces: end() leaves the fast path open',
    file: FACE,
    edits: [{ from: '      core.endCalled();\n', to: '' }],
  },
  {
    name: "faces: destroy() leaves the core to Node's _destroy",
    file: FACE,
    edits: [{ from: '      if (!this.destroyed) coreOf(this).destroy(error ?? null);\n', to: '' }],
  },
  {
    name: 'faces: uncork() leaves the core corked',
    file: FACE,
    edits: [{ from: '      coreOf(this).corked(-1);\n', to: '' }],
  },
  {
    name: 'faces: cork() leaves the core uncorked',
    file: FACE,
    edits: [{ from: '      coreOf(this).corked(1);\n', to: '' }],
  },
  {
    name: 'faces: setDefaultEncoding() not forwarded to the core',
    file: FACE,
    edits: [{ from: '      coreOf(this).defaultEncoding = encoding;\n', to: '' }],
  },
  // ---- The faces: BatchingWritable ---------------------------------------
  {
    name: 'BatchingWritable: the signal goes to super() again',
    file: WRITABLE,
    edits: [
      { from: '      signal: undefined,\n', to: '' },
      { from: '    if (options.signal) addAbortSignal(options.signal, this);\n', to: '' },
    ],
  },
  {
    name: 'BatchingWritable: the core ignores defaultEncoding',
    file: WRITABLE,
    edits: [{ from: "      options.defaultEncoding ?? 'utf8',", to: "      'utf8'," }],
  },
  {
    name: 'BatchingWritable: onBatch called without the stream as this',
    file: WRITABLE,
    edits: [
      {
        from: ': (batch) => settlesByReturn.call(this, batch),',
        to: ': (batch) => settlesByReturn(batch),',
      },
    ],
  },
  {
    name: 'BatchingWritable: a two-parameter onBatch is given no done()',
    file: WRITABLE,
    edits: [{ from: 'const takesDone = consumer.length >= 2;', to: 'const takesDone = false;' }],
  },
  {
    name: 'BatchingWritable: done(error) passes as done()',
    file: WRITABLE,
    edits: [{ from: '      if (error) reject(error);\n      else resolve();', to: '      resolve();' }],
  },
  {
    name: 'BatchingWritable: a second done() is ignored',
    file: WRITABLE,
    edits: [{ from: '        stream.destroy(multipleCallback());\n        return;', to: '        return;' }],
  },

  // ---- The faces: AsyncBatchStream ---------------------------------------
  {
    name: 'AsyncBatchStream: the signal goes to super() again',
    file: TRANSFORM,
    edits: [
      { from: '      signal: undefined,\n', to: '' },
      { from: '    if (options.signal) addAbortSignal(options.signal, this);\n', to: '' },
    ],
  },
  {
    name: 'AsyncBatchStream: the core ignores defaultEncoding',
    file: TRANSFORM,
    edits: [{ from: "      options.defaultEncoding ?? 'utf8',", to: "      'utf8'," }],
  },
  {
    name: 'AsyncBatchStream: ignore a full readable side',
    file: TRANSFORM,
    edits: [{ from: 'this.#downstreamFull = !this.push(batch);', to: 'this.push(batch);' }],
  },
  {
    name: 'AsyncBatchStream: readableHighWaterMark defaults to 16 batches',
    file: TRANSFORM,
    edits: [
      {
        from: 'readableHighWaterMark: readableHighWaterMark ?? 1,',
        to: 'readableHighWaterMark: readableHighWaterMark ?? 16,',
      },
    ],
  },
  {
    name: 'AsyncBatchStream: highWaterMark sets the readable side too',
    file: TRANSFORM,
    edits: [{ from: '      highWaterMark: undefined,\n', to: '' }],
  },
];

/**
 * The specs that exercise the core; the rest (bench, examples, packaging,
 * workers) do not. One not in the tree (yet) is left out.
 */
const CORE_SPECS = [
  'spec/abort-signal.spec.ts',
  'spec/async-batch-stream.spec.ts',
  'spec/async-dispose.spec.ts',
  'spec/bad-input.spec.ts',
  'spec/batching-writable.spec.ts',
  'spec/callback-consumer.spec.ts',
  'spec/canary.spec.ts',
  'spec/concurrency.spec.ts',
  'spec/destroy.spec.ts',
  'spec/go-library.spec.ts',
  'spec/interop.spec.ts',
  'spec/max-bytes.spec.ts',
  'spec/node-oracle.spec.ts',
  'spec/node-parity.spec.ts',
  'spec/options.spec.ts',
  'spec/pipe-busy.spec.ts',
  'spec/properties.spec.ts',
  'spec/ready.spec.ts',
  'spec/stats.spec.ts',
].filter((spec) => existsSync(join(ROOT, spec)));

/** A run that takes longer than this is killed and counted as caught (a hang). */
const RUN_DEADLINE_MS = 120_000;
/** How long mocha may stay alive after writing its results before it counts as held open. */
const LINGER_MS = 3000;

interface Args {
  only: string[] | null;
  jobs: number;
  withStress: boolean;
  check: boolean;
}

function parseArgs(argv: string[]): Args {
  const value = (name: string): string | undefined =>
    argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const only = value('only')?.split(',') ?? null;
  for (const name of only ?? []) {
    if (!MUTATIONS.some((m) => m.name === name)) throw new Error(`no mutation named '${name}'`);
  }
  return {
    only,
    jobs: Number(value('jobs') ?? 1),
    withStress: argv.includes('--with-stress'),
    check: argv.includes('--check'),
  };
}

/** Skips what never matters to the specs, or would be slow or wrong to copy. */
function copyFilter(source: string): boolean {
  const path = relative(ROOT, source);
  if (path === '') return true;
  const top = path.split(/[\\/]/)[0];
  if (['node_modules', '.git', 'dist', 'coverage', 'scratch', '.scratch'].includes(top)) return false;
  if (path.startsWith(join('bench', 'results'))) return false;
  return !basename(path).endsWith('.cpuprofile');
}

function copyRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mwsr-mutant-'));
  cpSync(ROOT, dir, { recursive: true, filter: copyFilter });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Applies `mutation` to its file in the copy; throws if a target is missing or ambiguous. */
function applyMutation(dir: string, mutation: Mutation): void {
  for (const edit of mutation.edits) {
    const { from, to } = edit;
    const file = join(dir, fileOf(mutation, edit));
    const text = readFileSync(file, 'utf8');
    const count = text.split(from).length - 1;
    if (count !== 1) {
      throw new Error(
        `mutation '${mutation.name}': its target is ${count === 0 ? 'not in' : `${count} times in`} ${fileOf(mutation, edit)}; ` +
          `update it in scripts/mutate.ts:\n${from}`,
      );
    }
    writeFileSync(
      file,
      text.replace(from, () => to),
    );
  }
}

interface SpecRun {
  code: number | null;
  timedOut: boolean;
  failures: string[];
  /** How the first failure failed (its message's first line). */
  reason: string;
  passes: number;
  ms: number;
  output: string;
}

/** Runs mocha in `dir` on `specs`; `skip` titles are left out; JSON results to a file. */
async function runSpecs(
  dir: string,
  specs: string[],
  options: { bail: boolean; skip: string[] },
): Promise<SpecRun> {
  const started = Date.now();
  const resultFile = join(dir, '.mutate-result.json');
  const args = [
    join('node_modules', 'mocha', 'bin', 'mocha.js'),
    '--no-config',
    '-r',
    'ts-node/register',
    '--extension',
    'ts',
    // The specs' own timeout (.mocharc.json): on a loaded machine a shorter
    // one fails slow specs, which would count as catches.
    '--timeout',
    '20000',
    '--reporter',
    'json',
    '--reporter-option',
    `output=${resultFile}`,
    ...(options.bail ? ['--bail'] : []),
    ...(options.skip.length > 0 ? ['--grep', options.skip.map(exactTitle).join('|'), '--invert'] : []),
    ...specs,
  ];
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (piece: Buffer) => (output = (output + piece.toString()).slice(-4000)));
  child.stderr.on('data', (piece: Buffer) => (output = (output + piece.toString()).slice(-4000)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, RUN_DEADLINE_MS);
  // Mocha writes its results when the run ends; a process still alive a few
  // seconds later is held by a handle a mutant left open: no need to wait more.
  let resultsSeenAt = 0;
  const watcher = setInterval(() => {
    if (resultsSeenAt === 0 && existsSync(resultFile)) resultsSeenAt = Date.now();
    if (resultsSeenAt !== 0 && Date.now() - resultsSeenAt > LINGER_MS) {
      timedOut = true;
      child.kill('SIGKILL');
    }
  }, 250);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  clearInterval(watcher);
  let failures: string[] = [];
  let reason = '';
  let passes = 0;
  if (existsSync(resultFile)) {
    try {
      const result = JSON.parse(readFileSync(resultFile, 'utf8')) as {
        stats: { passes: number };
        failures: { fullTitle: string; err?: { message?: string } }[];
      };
      failures = result.failures.map((failure) => failure.fullTitle);
      // The first line of the first failure: a timeout shows as one.
      reason = (result.failures[0]?.err?.message ?? '').split('\n')[0];
      passes = result.stats.passes;
    } catch {
      // a killed run leaves no (or half a) result
    }
  }
  return { code, timedOut, failures, reason, passes, ms: Date.now() - started, output };
}

/** A regular expression matching exactly `title`, for mocha's --grep. */
function exactTitle(title: string): string {
  return `^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

interface Verdict {
  mutation: string;
  verdict: 'caught' | 'caught (hang)' | 'MISSED' | 'BROKEN TARGET';
  by: string;
  ms: number;
}

async function main(): Promise<void> {
  process.exitCode = 1;
  const args = parseArgs(process.argv.slice(2));
  const specs = args.withStress ? [...CORE_SPECS, 'spec/stress.spec.ts'] : CORE_SPECS;
  const mutations = args.only ? MUTATIONS.filter((m) => args.only?.includes(m.name)) : MUTATIONS;

  // Every target must be in its file as it is now, before anything runs.
  const texts = new Map<string, string>();
  const broken: Verdict[] = [];
  for (const mutation of mutations) {
    for (const edit of mutation.edits) {
      const { from } = edit;
      const file = fileOf(mutation, edit);
      if (!texts.has(file))
        texts.set(file, existsSync(join(ROOT, file)) ? readFileSync(join(ROOT, file), 'utf8') : '');
      const text = texts.get(file) as string;
      const count = text.split(from).length - 1;
      if (count !== 1) {
        broken.push({
          mutation: mutation.name,
          verdict: 'BROKEN TARGET',
          by: `target found ${count} times`,
          ms: 0,
        });
        console.error(`mutation '${mutation.name}': target found ${count} times in ${file}:\n${from}\n`);
      }
    }
  }

  if (args.check) {
    console.log(
      `${mutations.length - broken.length} of ${mutations.length} targets found; specs: ${specs.join(' ')}`,
    );
    process.exitCode = broken.length === 0 ? 0 : 1;
    return;
  }

  console.log(`baseline: ${specs.length} spec files, no mutation ...`);
  const baseDir = copyRepository();
  let known: string[];
  try {
    const baseline = await runSpecs(baseDir, specs, { bail: false, skip: [] });
    known = baseline.failures;
    console.log(
      `baseline: ${baseline.passes} passing, ${known.length} failing in ${(baseline.ms / 1000).toFixed(0)} s` +
        (known.length > 0 ? `; left out of the mutant runs:\n  - ${known.join('\n  - ')}` : ''),
    );
    if (baseline.timedOut || (baseline.code !== 0 && known.length === 0)) {
      throw new Error(`the baseline run did not complete:\n${baseline.output}`);
    }
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
  }

  const verdicts: Verdict[] = [...broken];
  const queue = mutations.filter((m) => !broken.some((b) => b.mutation === m.name));
  const worker = async (): Promise<void> => {
    for (let mutation = queue.shift(); mutation !== undefined; mutation = queue.shift()) {
      const dir = copyRepository();
      try {
        applyMutation(dir, mutation);
        const run = await runSpecs(dir, specs, { bail: true, skip: known });
        const hung = run.timedOut ? ` (then mocha did not exit: a handle left open)` : '';
        const verdict: Verdict =
          run.failures.length > 0
            ? {
                mutation: mutation.name,
                verdict: 'caught',
                by: `${run.failures[0]}\n              (${run.reason})${hung}`,
                ms: run.ms,
              }
            : run.timedOut
              ? {
                  mutation: mutation.name,
                  verdict: 'caught (hang)',
                  by: `no result within ${RUN_DEADLINE_MS / 1000} s`,
                  ms: run.ms,
                }
              : run.code !== 0
                ? {
                    mutation: mutation.name,
                    verdict: 'caught',
                    by: run.failures[0] ?? `mocha exited ${run.code}: ${run.output.slice(-300)}`,
                    ms: run.ms,
                  }
                : {
                    mutation: mutation.name,
                    verdict: 'MISSED',
                    by: `${run.passes} specs passed`,
                    ms: run.ms,
                  };
        verdicts.push(verdict);
        console.log(
          `${verdict.verdict.padEnd(13)} ${mutation.name}  (${(run.ms / 1000).toFixed(0)} s)\n              ${verdict.by}`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, args.jobs) }, worker));

  const missed = verdicts.filter((v) => v.verdict === 'MISSED' || v.verdict === 'BROKEN TARGET');
  console.log('\n== mutations ==');
  for (const v of verdicts) console.log(`${v.verdict.padEnd(13)} ${v.mutation}`);
  console.log(
    `${verdicts.length - missed.length} of ${verdicts.length} caught` +
      (missed.length > 0 ? `; missed or broken: ${missed.map((v) => v.mutation).join(', ')}` : ''),
  );
  process.exitCode = missed.length === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
