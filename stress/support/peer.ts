/**
 * The client's handle on the server child (stress/support/server.ts): start it, open
 * connections with a header, and await each connection's report.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { encodeHeader, type ConnectionHeader, type ConnectionReport } from './server';
import { forkTs } from './common';

export class Peer {
  readonly #child: ChildProcess;
  readonly #port: number;
  readonly #reports = new Map<number, ConnectionReport>();
  readonly #waiters = new Map<number, (report: ConnectionReport) => void>();
  #nextId = 1;

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.#port = port;
    child.on('message', (message: ConnectionReport) => {
      if (message.type !== 'connection') return;
      const waiter = this.#waiters.get(message.id);
      if (waiter) {
        this.#waiters.delete(message.id);
        waiter(message);
      } else {
        this.#reports.set(message.id, message);
      }
    });
  }

  static async start(seed: number): Promise<Peer> {
    const child = forkTs('support/server.ts', [String(seed)]);
    child.stderr?.on('data', (piece: Buffer) => process.stderr.write(`[server] ${piece.toString()}`));
    const [message] = (await once(child, 'message')) as [{ type: string; port: number }];
    if (message.type !== 'listening') throw new Error(`server said ${JSON.stringify(message)}`);
    return new Peer(child, message.port);
  }

  /** Opens a connection and sends its header; `id` is assigned here. */
  async connect(header: Omit<ConnectionHeader, 'id'>): Promise<{ socket: Socket; id: number }> {
    const id = this.#nextId++;
    const socket = connect(this.#port, '127.0.0.1');
    await once(socket, 'connect');
    socket.setNoDelay(true);
    socket.write(encodeHeader({ ...header, id }));
    return { socket, id };
  }

  /** The server's report on connection `id`, once it is over there. */
  report(id: number): Promise<ConnectionReport> {
    const ready = this.#reports.get(id);
    if (ready) {
      this.#reports.delete(id);
      return Promise.resolve(ready);
    }
    return new Promise((resolve) => this.#waiters.set(id, resolve));
  }

  /** Closes the IPC channel; the server then closes and exits by itself. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = once(this.#child, 'exit');
    this.#child.disconnect();
    await exited;
  }
}
