/**
 * The live feed (GET /api/events): server-sent events carrying the overview every SNAPSHOT_MS.
 * One read serves every open page, and nothing is read while no page is open, so ten browser
 * tabs cost the backend what one does. A read that fails is sent as a `problem` event (the page
 * says the backend does not answer) and the feed carries on.
 */
import type { ServerResponse } from 'node:http';
import type { OverviewReader } from './overview.ts';

/** How often open pages get a fresh overview. */
export const SNAPSHOT_MS = 1_500;

export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  /** The last overview sent, for a page that opens between two reads. */
  private last: string | undefined;
  private looping = false;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(private readonly overview: OverviewReader) {}

  /** Streams to `response` until the page goes away. */
  add(response: ServerResponse): void {
    response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    // The browser reconnects by itself after a dropped connection; this is how soon.
    response.write('retry: 2000\n\n');
    if (this.last !== undefined) response.write(this.last);
    this.clients.add(response);
    response.on('close', () => this.clients.delete(response));
    response.on('error', () => this.clients.delete(response));
    if (!this.looping) void this.loop();
  }

  /** Ends every stream; no read starts after this. */
  close(): void {
    this.closed = true;
    this.wake?.();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.clients.size > 0 && !this.closed) {
        const message = await this.read();
        for (const client of this.clients) client.write(message);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, SNAPSHOT_MS);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      this.looping = false;
      this.last = undefined;
    }
  }

  private async read(): Promise<string> {
    try {
      this.last = event('overview', await this.overview.read());
      return this.last;
    } catch (error) {
      return event('problem', { error: (error as Error).message });
    }
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
