import { expect } from 'chai';
import { once } from 'node:events';
import { MODES, harnessFor, type Harness } from './support/harness';
import { nextTurn } from './support/helpers';

async function closed(harness: Harness): Promise<void> {
  if (!harness.stream.closed) await once(harness.stream, 'close');
  await nextTurn();
  await nextTurn();
}

/**
 * destroy() discards what is pending (docs/semantics.md 9): nothing
 * reaches the consumer afterwards, even when a hand-over was already queued
 * for the next tick when destroy() came. (Found by npm run mutate: removing
 * the destroyed check at the top of the hand-over loop went unnoticed.)
 */
describe('destroy() discards what is pending', () => {
  for (const [face, factory] of Object.entries(harnessFor)) {
    for (const mode of MODES) {
      describe(`${face} (${mode})`, () => {
        it('hands nothing over once destroyed, though a full batch was queued to go this turn', async () => {
          const h = factory({ size: 1, mode });
          h.stream.write(h.chunk('a'));
          h.stream.destroy();
          await closed(h);
          expect(h.batches).to.have.length(0);
        });

        it('hands nothing over once destroyed, though a flush() had queued the open batch', async () => {
          const h = factory({ size: 10, mode, maxDelay: Infinity });
          h.stream.write(h.chunk('a'));
          const flushed = h.stream.flush().then(
            () => null,
            (error: unknown) => error,
          );
          h.stream.destroy();
          expect(await flushed).to.have.property('code', 'ERR_STREAM_DESTROYED');
          await closed(h);
          expect(h.batches).to.have.length(0);
        });

        it('hands nothing over once destroyed, though end() had queued the last batch', async () => {
          const h = factory({ size: 10, mode });
          h.stream.write(h.chunk('a'));
          h.stream.end();
          h.stream.destroy();
          await closed(h);
          expect(h.batches).to.have.length(0);
        });

        it('hands nothing more over when the consumer settles after destroy()', async () => {
          const h = factory({ size: 10, mode });
          h.hold();
          h.stream.write(h.chunk('a'));
          await h.nextBatch();
          h.stream.write(h.chunk('b'));
          await nextTurn();
          h.stream.destroy();
          h.release();
          await closed(h);
          expect(h.text()).to.equal('a');
        });
      });
    }
  }
});
