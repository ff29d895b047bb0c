/**
 * Notices (PostgreSQL's LISTEN, src/drivers/database/Notices.ts) against a stand-in connection: a
 * channel is listened on from its first subscription, so a worker that only waits for jobs never
 * hears the jobs that finish; a lost connection is replaced, listening again where someone still
 * hears. The real server's side is in the contract suite (records: notices; waiting).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Listening } from '../../src/drivers/database/dialects/dialect.ts';
import { Notices } from '../../src/drivers/database/Notices.ts';

/** Connections opened by the stand-in `listen`: what each was asked to hear, and how to talk through it. */
interface Opened {
  channels: string[];
  closed: boolean;
  tell(channel: string, payload: string): void;
  lose(): void;
}

function standIn(options: { failOpens?: number } = {}) {
  const opened: Opened[] = [];
  let failOpens = options.failOpens ?? 0;
  const listen = async (onNotice: (channel: string, payload: string) => void, onLost: (error: Error) => void): Promise<Listening> => {
    if (failOpens > 0) {
      failOpens -= 1;
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    }
    const connection: Opened = { channels: [], closed: false, tell: onNotice, lose: () => onLost(new Error('terminating connection')) };
    opened.push(connection);
    return {
      add: async (channel) => void connection.channels.push(channel),
      close: async () => void (connection.closed = true),
    };
  };
  const notices = new Notices(listen, (what, error) => new Error(`cannot ${what}: ${(error as Error).message}`));
  return { notices, opened };
}

describe('Notices', () => {
  it('listens on a channel from its first subscription on, once per connection, and tells each channel\'s hearers only', async () => {
    const { notices, opened } = standIn();
    const ready: string[] = [];
    const done: string[] = [];
    await notices.subscribe('jobs_ready', 'wait for jobs', (payload) => ready.push(payload));
    assert.deepEqual(opened.map((c) => c.channels), [['jobs_ready']], 'a worker waiting for jobs does not hear finished ones');
    const stopHearing = await notices.subscribe('jobs_done', 'listen for finished jobs', (payload) => done.push(payload));
    await notices.subscribe('jobs_ready', 'wait for jobs', () => {});
    assert.deepEqual(opened.map((c) => c.channels), [['jobs_ready', 'jobs_done']], 'one connection, each channel listened on once');

    opened[0]!.tell('jobs_ready', 'default');
    opened[0]!.tell('jobs_done', '["a"]');
    stopHearing();
    opened[0]!.tell('jobs_done', '["b"]');
    assert.deepEqual(ready, ['default']);
    assert.deepEqual(done, ['["a"]']);
  });

  it('after a lost connection, the next subscription opens another that listens wherever someone still hears', async () => {
    const { notices, opened } = standIn();
    const stopWaiting = await notices.subscribe('jobs_ready', 'wait for jobs', () => {});
    const heard: string[] = [];
    await notices.subscribe('jobs_done', 'listen for finished jobs', (payload) => heard.push(payload));
    stopWaiting();
    opened[0]!.lose();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(opened[0]!.closed, true, 'the lost connection is closed');

    await notices.subscribe('jobs_other', 'wait for jobs', () => {});
    assert.equal(opened.length, 2);
    assert.deepEqual([...opened[1]!.channels].sort(), ['jobs_done', 'jobs_other'], 'jobs_ready has no hearer left, so it is not listened on again');
    opened[1]!.tell('jobs_done', '["c"]');
    assert.deepEqual(heard, ['["c"]']);
  });

  it('a connection that cannot open fails its subscription with the translated error, and the next one tries again', async () => {
    const { notices, opened } = standIn({ failOpens: 1 });
    await assert.rejects(notices.subscribe('jobs_done', 'listen for finished jobs', () => {}), /^Error: cannot listen for finished jobs: connect ECONNREFUSED/);
    const heard: string[] = [];
    await notices.subscribe('jobs_done', 'listen for finished jobs', (payload) => heard.push(payload));
    assert.deepEqual(opened.map((c) => c.channels), [['jobs_done']]);
    opened[0]!.tell('jobs_done', '["d"]');
    assert.deepEqual(heard, ['["d"]'], 'the failed subscription left no hearer behind');
  });

  it('close() ends the connection; a subscription after it opens a new one', async () => {
    const { notices, opened } = standIn();
    await notices.subscribe('jobs_ready', 'wait for jobs', () => {});
    await notices.close();
    assert.equal(opened[0]!.closed, true);
    await notices.subscribe('jobs_ready', 'wait for jobs', () => {});
    assert.equal(opened.length, 2);
    assert.deepEqual(opened[1]!.channels, ['jobs_ready']);
  });
});
