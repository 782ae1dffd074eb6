import { expect } from 'chai';
import { Transform, Writable } from 'node:stream';
import { AsyncBatchStream } from '../lib/async-batch-stream';
import { BatchingWritable } from '../lib/batching-writable';
import { SHARED_HOOKS } from '../lib/face';

// Both faces share one writable surface (lib/face.ts): a hook one of them
// overrides and the other leaves to Node would make them differ on the same
// writes. Each face's own hooks are its consumer side only.
const OWN_HOOKS = {
  BatchingWritable: ['_final', 'constructor', 'write'],
  AsyncBatchStream: [
    '_flush',
    '_read',
    '_transform',
    'constructor',
    'pipe',
    'setEncoding',
    'unpipe',
    'write',
  ],
};

/** Everything a face's prototype defines itself. */
function overridden(prototype: object): string[] {
  return Reflect.ownKeys(prototype).map(String).sort();
}

describe('faces: one shared writable surface', () => {
  it('both prototypes define the same hooks, and only their consumer side differs', () => {
    const shared = [...SHARED_HOOKS, String(Symbol.asyncDispose)];
    const writable = overridden(BatchingWritable.prototype);
    const transform = overridden(AsyncBatchStream.prototype);
    expect(writable).to.deep.equal([...shared, ...OWN_HOOKS.BatchingWritable].sort());
    expect(transform).to.deep.equal([...shared, ...OWN_HOOKS.AsyncBatchStream].sort());
  });

  it('the shared hooks are not Node’s', () => {
    for (const name of [...SHARED_HOOKS, Symbol.asyncDispose]) {
      for (const [prototype, base] of [
        [BatchingWritable.prototype, Writable.prototype],
        [AsyncBatchStream.prototype, Transform.prototype],
      ] as const) {
        const own = Object.getOwnPropertyDescriptor(prototype, name);
        const node = Object.getOwnPropertyDescriptor(base, name) ?? { value: undefined, get: undefined };
        expect(own, String(name)).to.not.equal(undefined);
        expect(own?.value ?? own?.get, String(name)).to.not.equal(node.value ?? node.get);
      }
    }
  });
});
