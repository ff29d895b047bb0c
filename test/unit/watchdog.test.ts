import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Watchdog } from '../../src/running/watchdog.ts';

describe('Watchdog', () => {
  it('ready() settles once its thread has started, and again for a thread that ended', async () => {
    const watchdog = new Watchdog(process.cwd(), 2, { connection: 'redis', defaults: { maxTries: 1, timeout: 60, backoff: [0] } }, pino({ level: 'silent' }));
    let settled = false;
    const ready = watchdog.ready().then(() => (settled = true));
    assert.equal(settled, false, 'the thread cannot have started within the constructor');
    await ready;
    assert.equal(settled, true);
    await watchdog.stop();
    await watchdog.ready();
  });
});
