import { expect } from 'chai';
import { once } from 'node:events';
import * as stream from 'node:stream';
import { type Duplex, finished, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncBatchStream } from '../lib/index';
import { mustCall, nextTurn } from './support/helpers';

// The readable side of AsyncBatchStream, read every way a user reads a
// stream, side by side with a plain Transform that passes each chunk on
// (docs/node-parity.md). How writes are grouped into batches is ours, so
// what is compared is the concatenation of what was read, the events, the
// write callbacks and the stream's state; where a difference is deliberate,
// the spec says so and docs/node-parity.md gives the reason.

type Mode = 'bytes' | 'objects';

/** `stream.compose()` (Node 20), which @types/node 20 does not declare. */
const { compose } = stream as unknown as { compose(...streams: unknown[]): Duplex };

/** Ours or Node's, for one scenario. */
type Make = (options?: { allowHalfOpen?: boolean; highWaterMark?: number }) => Transform;

function ours(mode: Mode): Make {
  return (options = {}) =>
    // Either mode, chosen at run time: the typed overloads pick one.
    new AsyncBatchStream<unknown>({ size: 4, objectMode: (mode === 'objects') as true, ...options });
}

function nodeTransform(mode: Mode): Make {
  return (options = {}) =>
    new Transform({
      ...options,
      objectMode: mode === 'objects',
      transform(chunk, _encoding, callback) {
        callback(null, chunk);
      },
    });
}

/** One chunk for `write()`: a one-byte-per-letter string, or an item (the same string). */
function chunk(mode: Mode, text: string): string | Buffer {
  return mode === 'bytes' ? Buffer.from(text) : text;
}

/** What was read, concatenated: bytes as text, items joined (a batch is an array of them). */
function textOf(read: unknown): string {
  if (Array.isArray(read)) return read.join('');
  return Buffer.isBuffer(read) ? read.toString('latin1') : String(read);
}

/** A few turns: ours hands a batch over a tick or a turn after the write (docs/node-parity.md). */
async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await nextTurn();
}

/** What a user of the readable side sees: events in order, callbacks, and the state. */
class Probe {
  readonly log: string[] = [];
  text = '';

  constructor(readonly stream: Transform) {
    for (const event of ['end', 'error', 'close'] as const) {
      stream.on(event, (error?: Error & { code?: string }) =>
        this.log.push(event === 'error' ? `'error' ${error?.code ?? error?.message}` : `'${event}'`),
      );
    }
  }

  /** A write callback that records itself. */
  callback(name: string): (error?: Error | null) => void {
    return (error) =>
      this.log.push(`${name}(${error ? ((error as { code?: string }).code ?? error.message) : 'null'})`);
  }

  /** Reads what `read()` gives now, in paused mode. */
  readAll(): void {
    let read: unknown;
    while ((read = this.stream.read()) !== null) this.text += textOf(read);
  }

  state(): string {
    const s = this.stream;
    return [
      `read=${JSON.stringify(this.text)}`,
      `buffered=${s.readableLength > 0}`,
      `flowing=${s.readableFlowing}`,
      `readableEnded=${s.readableEnded}`,
      `readableAborted=${s.readableAborted}`,
      `readableDidRead=${s.readableDidRead}`,
      `writableFinished=${s.writableFinished}`,
      `destroyed=${s.destroyed}`,
      `closed=${s.closed}`,
      `errored=${(s.errored as { code?: string } | null)?.code ?? s.errored?.message ?? null}`,
    ].join(' ');
  }
}

/** Runs `scenario` on ours and on Node's Transform and expects the same log. */
async function sideBySide(
  mode: Mode,
  scenario: (make: Make, probe: (s: Transform) => Probe) => Promise<string[]>,
): Promise<string[]> {
  const run = (make: Make): Promise<string[]> => scenario(make, (s) => new Probe(s));
  const [fromOurs, fromNode] = [await run(ours(mode)), await run(nodeTransform(mode))];
  expect(fromOurs).to.deep.equal(fromNode);
  return fromOurs;
}

for (const mode of ['bytes', 'objects'] as const) {
  describe(`AsyncBatchStream's readable side read as a plain Transform's (${mode})`, () => {
    describe('paused mode', () => {
      it('read() gives everything written, then null, and ends once all is read', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          p.stream.write(chunk(mode, 'ab'));
          p.stream.write(chunk(mode, 'cd'));
          await turns();
          p.stream.end(chunk(mode, 'ef'));
          const before = p.state();
          for (let i = 0; i < 4; i++) {
            p.readAll();
            await turns();
          }
          return [before, ...p.log, p.state()];
        });
      });

      it("the 'readable' event and read() read everything, with no 'data' listener", async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          p.stream.on('readable', () => p.readAll());
          const ended = once(p.stream, 'end');
          p.stream.write(chunk(mode, 'ab'));
          await nextTurn();
          p.stream.write(chunk(mode, 'cd'));
          p.stream.end(chunk(mode, 'ef'));
          await ended;
          await turns();
          return [...p.log, p.state()];
        });
      });

      it('pause() keeps data buffered and resume() delivers the rest in order', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          p.stream.on('data', (read: unknown) => (p.text += textOf(read)));
          p.stream.write(chunk(mode, 'ab'));
          await turns();
          p.stream.pause();
          p.stream.write(chunk(mode, 'cd'));
          await turns();
          const paused = p.state();
          const ended = once(p.stream, 'end');
          p.stream.resume();
          p.stream.end(chunk(mode, 'ef'));
          await ended;
          await turns();
          return [paused, ...p.log, p.state()];
        });
      });
    });

    describe("'prefinish', 'finish', 'end' and 'close' come in Node's order", () => {
      const readers: Record<string, (s: Transform) => void> = {
        "a 'data' listener": (s) => s.on('data', () => {}),
        "a 'readable' listener": (s) =>
          s.on('readable', () => {
            while (s.read() !== null);
          }),
        'for await': (s) =>
          void (async () => {
            for await (const read of s) void read;
          })(),
        'pipe()': (s) =>
          s.pipe(
            new Writable({
              objectMode: true,
              write(_read, _encoding, callback) {
                callback();
              },
            }),
          ),
      };
      for (const [name, read] of Object.entries(readers)) {
        for (const [when, program] of [
          ['end(chunk)', (s: Transform) => s.end(chunk(mode, 'ab'))],
          [
            'write(), a turn, end()',
            async (s: Transform) => {
              s.write(chunk(mode, 'ab'));
              await nextTurn();
              s.end();
            },
          ],
        ] as const) {
          it(`read by ${name}, after ${when}`, async () => {
            await sideBySide(mode, async (make) => {
              const s = make();
              const log: string[] = [];
              for (const event of ['prefinish', 'finish', 'end', 'close']) s.on(event, () => log.push(event));
              const closed = once(s, 'close');
              read(s);
              await program(s);
              await closed;
              return log;
            });
          });
        }
      }
    });

    describe('async iteration', () => {
      it('for await reads everything and the stream closes', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          p.stream.write(chunk(mode, 'ab'));
          p.stream.write(chunk(mode, 'cd'));
          p.stream.end(chunk(mode, 'ef'));
          for await (const read of p.stream) p.text += textOf(read);
          await turns();
          return [...p.log, p.state()];
        });
      });

      it('break destroys the stream; writes already taken are called back with null', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          p.stream.write(chunk(mode, 'ab'), p.callback('w1'));
          await turns();
          for await (const read of p.stream) {
            p.text += textOf(read);
            break;
          }
          await turns();
          return [...p.log, p.state()];
        });
      });

      it('iterator({ destroyOnReturn: false }) leaves the stream to be read on', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          p.stream.write(chunk(mode, 'ab'));
          await turns();
          for await (const read of p.stream.iterator({ destroyOnReturn: false })) {
            p.text += textOf(read);
            break;
          }
          p.stream.end(chunk(mode, 'cd'));
          for await (const read of p.stream) p.text += textOf(read);
          await turns();
          return [...p.log, p.state()];
        });
      });
    });

    describe('destroyed from the reader side', () => {
      for (const withError of [false, true]) {
        it(`destroy(${withError ? 'error' : ''}) while writes wait for a reader: the same events and state`, async () => {
          const log = await sideBySide(mode, async (make, probe) => {
            const p = probe(make({ highWaterMark: 1 }));
            for (let i = 0; i < 12; i++) p.stream.write(chunk(mode, 'x'), p.callback(`w${i}`));
            await turns();
            p.stream.destroy(withError ? new Error('reader') : undefined);
            await turns();
            // Write callbacks differ by design: below.
            return [...p.log.filter((entry) => entry.startsWith("'")), p.state()];
          });
          expect(log[0]).to.equal(withError ? "'error' reader" : "'close'");
        });

        it(`destroy(${withError ? 'error' : ''}) while writes wait for a reader calls each write back once (Node's Transform calls none of those it queued)`, async () => {
          const p = new Probe(ours(mode)({ highWaterMark: 1 }));
          for (let i = 0; i < 12; i++) p.stream.write(chunk(mode, 'x'), p.callback(`w${i}`));
          await turns();
          p.stream.destroy(withError ? new Error('reader') : undefined);
          await turns();
          const callbacks = p.log.filter((entry) => entry.startsWith('w'));
          expect(callbacks.map((entry) => entry.replace(/\(.*/, ''))).to.deep.equal(
            Array.from({ length: 12 }, (_, i) => `w${i}`),
          );
          // A chunk copied into a batch was taken: null, or the destroy error.
          for (const entry of callbacks)
            expect(entry).to.match(withError ? /\((null|reader)\)$/ : /\(null\)$/);
        });
      }
    });

    describe('pipes', () => {
      it('unpipe() leaves the rest to read()', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          let piped = '';
          const destination = new Writable({
            objectMode: true,
            write(read, _encoding, callback) {
              piped += textOf(read);
              callback();
            },
          });
          p.stream.pipe(destination);
          p.stream.write(chunk(mode, 'ab'));
          await turns();
          p.stream.unpipe(destination);
          p.stream.write(chunk(mode, 'cd'));
          p.stream.end(chunk(mode, 'ef'));
          await turns();
          const flowing = p.stream.readableFlowing;
          for (let i = 0; i < 4; i++) {
            p.readAll();
            await turns();
          }
          return [`piped=${piped} flowing=${flowing}`, ...p.log, p.state()];
        });
      });

      it('a destination that fails a write is unpiped; the stream stays alive and readable', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          const destination = new Writable({
            objectMode: true,
            write(_read, _encoding, callback) {
              callback(new Error('destination'));
            },
          });
          destination.on(
            'error',
            mustCall(() => {}),
          );
          p.stream.pipe(destination);
          p.stream.write(chunk(mode, 'ab'), p.callback('w1'));
          await turns();
          p.stream.end(chunk(mode, 'cd'));
          for (let i = 0; i < 4; i++) {
            p.readAll();
            await turns();
          }
          return [...p.log, p.state()];
        });
      });

      it('stream/promises pipeline into a failing destination destroys the stream with its error', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          const destination = new Writable({
            objectMode: true,
            write(_read, _encoding, callback) {
              callback(new Error('destination'));
            },
          });
          const done = pipeline(p.stream, destination).catch((error: Error) =>
            p.log.push(`pipeline ${error.message}`),
          );
          p.stream.write(chunk(mode, 'ab'), p.callback('w1'));
          await done;
          p.stream.write(chunk(mode, 'cd'), p.callback('w2'));
          await turns();
          return [...p.log, p.state()];
        });
      });
    });

    describe("Node's stream utilities", () => {
      it('toArray() and map() read everything', async () => {
        await sideBySide(mode, async (make) => {
          const a = make();
          a.write(chunk(mode, 'ab'));
          a.end(chunk(mode, 'cd'));
          const b = make();
          b.write(chunk(mode, 'ef'));
          b.end(chunk(mode, 'gh'));
          const all = (await a.toArray()).map(textOf).join('');
          const mapped = (await b.map((read: unknown) => textOf(read).toUpperCase()).toArray()).join('');
          return [all, mapped];
        });
      });

      it('Readable.toWeb() reads everything', async () => {
        await sideBySide(mode, async (make) => {
          const s = make();
          s.write(chunk(mode, 'ab'));
          s.end(chunk(mode, 'cd'));
          let text = '';
          for await (const read of Readable.toWeb(s) as unknown as AsyncIterable<unknown>) {
            text += mode === 'bytes' ? Buffer.from(read as Uint8Array).toString('latin1') : textOf(read);
          }
          return [text];
        });
      });

      it('compose() with a source reads everything', async () => {
        await sideBySide(mode, async (make) => {
          const source = Readable.from(['ab', 'cd', 'ef'].map((text) => chunk(mode, text)));
          let text = '';
          for await (const read of compose(source, make())) text += textOf(read);
          return [text];
        });
      });

      it('finished() reports the end once read, and ERR_STREAM_PREMATURE_CLOSE on destroy()', async () => {
        await sideBySide(mode, async (make) => {
          const log: string[] = [];
          const read = make();
          read.resume();
          finished(read, (error) =>
            log.push(`read: ${(error as { code?: string } | undefined)?.code ?? 'ok'}`),
          );
          read.end(chunk(mode, 'ab'));
          const destroyed = make();
          destroyed.resume();
          finished(destroyed, (error) =>
            log.push(`destroyed: ${(error as { code?: string } | undefined)?.code ?? 'ok'}`),
          );
          destroyed.write(chunk(mode, 'ab'));
          await turns();
          destroyed.destroy();
          await turns();
          return log.sort();
        });
      });
    });

    describe('the readable side driven by the user', () => {
      it('allowHalfOpen: false ends and closes both sides once the readable side ends', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make({ allowHalfOpen: false }));
          p.stream.on('data', (read: unknown) => (p.text += textOf(read)));
          p.stream.write(chunk(mode, 'ab'));
          await turns();
          p.stream.push(null); // the user ends the readable side early
          await turns();
          return [...p.log, p.state(), `writableEnded=${p.stream.writableEnded}`];
        });
      });

      it('a batch pushed after a user push(null) fails the stream with ERR_STREAM_PUSH_AFTER_EOF', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          p.stream.on('data', (read: unknown) => (p.text += textOf(read)));
          p.stream.write(chunk(mode, 'ab'));
          await turns();
          p.stream.push(null);
          await turns();
          p.stream.write(chunk(mode, 'cd'));
          await turns();
          // The write's callback comes earlier on ours (its chunk was
          // copied before the push failed): not compared.
          return [...p.log, p.state()];
        });
      });

      it('unshift() puts a chunk back in front of what is buffered', async () => {
        await sideBySide(mode, async (make, probe) => {
          const p = probe(make());
          p.stream.write(chunk(mode, 'ab'));
          await turns();
          p.readAll();
          p.stream.unshift(mode === 'bytes' ? Buffer.from('U') : ['U']);
          p.stream.end(chunk(mode, 'cd'));
          for (let i = 0; i < 4; i++) {
            p.readAll();
            await turns();
          }
          return [...p.log, p.state()];
        });
      });
    });
  });
}

describe("AsyncBatchStream's readableHighWaterMark, as a plain Transform's", () => {
  for (const options of [
    {},
    { readableHighWaterMark: 0 },
    { readableHighWaterMark: 3 },
    { readableHighWaterMark: 0, highWaterMark: 5 },
  ]) {
    it(`sets writableHighWaterMark as Node's Transform does for ${JSON.stringify(options)}`, () => {
      const plain = new Transform(options);
      const s = new AsyncBatchStream({ size: 4, ...options });
      expect(s.writableHighWaterMark).to.equal(plain.writableHighWaterMark);
      expect(s.readableHighWaterMark).to.equal(options.readableHighWaterMark ?? 1);
    });
  }
});

describe("AsyncBatchStream's readable side with setEncoding() (bytes)", () => {
  /** Writes 'é' split across two batches, then a character cut short at the end. */
  async function readSplit(s: Transform): Promise<string[]> {
    const reads: string[] = [];
    s.on('data', (read: unknown) => reads.push(read as string));
    const ended = once(s, 'end');
    const e = Buffer.from('é');
    s.write(e.subarray(0, 1));
    await turns();
    s.write(e.subarray(1));
    await turns();
    s.end(e.subarray(0, 1));
    await ended;
    return reads;
  }

  it('decodes a character split across batches whole, and never reads an empty string', async () => {
    const plain = await readSplit(nodeTransform('bytes')().setEncoding('utf8'));
    const read = await readSplit(ours('bytes')().setEncoding('utf8'));
    expect(read).to.deep.equal(plain);
    expect(read).to.deep.equal(['é', '\ufffd']);
  });

  it('keeps decoding right when batches were already buffered at setEncoding()', async () => {
    const read = async (s: Transform): Promise<string> => {
      const e = Buffer.from('é');
      s.write(e.subarray(0, 1));
      await turns();
      s.setEncoding('utf8');
      s.write(e.subarray(1));
      s.end('x');
      let text = '';
      for await (const piece of s) text += piece as string;
      return text;
    };
    expect(await read(ours('bytes')()))
      .to.equal(await read(nodeTransform('bytes')()))
      .and.equal('éx');
  });

  it('reads nothing more at the end when no character is cut short', async () => {
    const read = async (s: Transform): Promise<string[]> => {
      const reads: string[] = [];
      s.setEncoding('utf8').on('data', (piece: string) => reads.push(piece));
      const ended = once(s, 'end');
      s.end(Buffer.from('é'));
      await ended;
      return reads;
    };
    expect(await read(ours('bytes')()))
      .to.deep.equal(await read(nodeTransform('bytes')()))
      .and.deep.equal(['é']);
  });

  it('refuses an unknown encoding as Readable does', () => {
    const s = ours('bytes')();
    expect(() => s.setEncoding('bogus' as BufferEncoding))
      .to.throw(TypeError)
      .with.property('code', 'ERR_UNKNOWN_ENCODING');
  });
});

describe("AsyncBatchStream's destroy option, as a plain Transform's", () => {
  /** Runs `program` on a stream made with a `destroy` option that notes its error; returns the trace. */
  async function traceOf(
    make: (destroy: (error: Error | null, callback: (error?: Error | null) => void) => void) => Transform,
    program: (s: Transform, trace: string[]) => void,
  ): Promise<string[]> {
    const trace: string[] = [];
    const s = make((error, callback) => {
      trace.push(`destroy ${error === null ? 'null' : error.message}`);
      callback(error === null ? null : new Error('replaced'));
    });
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.on('error', (error) => trace.push(`error ${error.message}`));
    s.on('data', () => {});
    program(s, trace);
    await closed;
    return trace;
  }
  const makeOurs = (destroy: (error: Error | null, callback: (error?: Error | null) => void) => void) =>
    new AsyncBatchStream({ size: 4, destroy });
  const makeNode = (destroy: (error: Error | null, callback: (error?: Error | null) => void) => void) =>
    new Transform({ transform: (chunk, _encoding, callback) => callback(null, chunk), destroy });

  it('calls it with the error, and the stream takes the error it calls back with', async () => {
    const program = (s: Transform, trace: string[]): void => {
      s.write('ab', (error) => trace.push(`write ${error ? 'error' : 'ok'}`));
      s.destroy(new Error('first'));
    };
    const node = await traceOf(makeNode, program);
    const ours = await traceOf(makeOurs, program);
    expect(node).to.include.members(['destroy first', 'error replaced']);
    // When write callbacks come is ours (docs/node-parity.md): each once.
    const events = (trace: string[]): string[] => trace.filter((entry) => !entry.startsWith('write'));
    expect(events(ours)).to.deep.equal(events(node));
    expect(ours.filter((entry) => entry.startsWith('write'))).to.have.lengthOf(1);
  });

  it('calls it with null once a finished stream is destroyed by autoDestroy', async () => {
    const program = (s: Transform): void => {
      s.end('ab');
    };
    const node = await traceOf(makeNode, program);
    expect(node).to.deep.equal(['destroy null']);
    expect(await traceOf(makeOurs, program)).to.deep.equal(node);
  });
});

describe("AsyncBatchStream's readable side: what deliberately differs (docs/node-parity.md)", () => {
  it("'finish' with nobody reading waits once more than readableHighWaterMark batches wait", async () => {
    const s = new AsyncBatchStream({ size: 2 });
    let finishedYet = false;
    s.on('finish', () => (finishedYet = true));
    s.write('ab');
    await turns();
    s.end('cd'); // a second batch: the readable side holds one already
    await turns();
    expect(finishedYet).to.equal(false);
    const finishing = once(s, 'finish');
    expect(s.read()).to.deep.equal(Buffer.from('ab'));
    await finishing;
  });

  it("a 'data' listener that throws destroys the stream with that error (the push is on a later tick)", async () => {
    const s = new AsyncBatchStream({ size: 4 });
    const error = new Error('listener');
    s.on('data', () => {
      throw error;
    });
    const failed = once(s, 'error');
    s.write('ab');
    expect((await failed)[0]).to.equal(error);
  });

  it('a user push() lands before batches not handed over yet', async () => {
    const s = new AsyncBatchStream({ size: 4 });
    const reads: string[] = [];
    s.on('data', (read: Buffer) => reads.push(read.toString()));
    const ended = once(s, 'end');
    s.write('ab');
    s.push(Buffer.from('P'));
    s.end();
    await ended;
    expect(reads.join('')).to.equal('Pab');
  });
});
