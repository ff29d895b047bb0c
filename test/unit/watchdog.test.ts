import { describe, it } from 'node:test';
import pino from 'pino';
import { Watchdog } from '../../src/running/watchdog.ts';

const create = () => new Watchdog(process.cwd(), 2, { connection: 'redis', defaults: { maxTries: 1, timeout: 60, backoff: [0] } }, pino({ level: 'silent' }));

describe('Watchdog', () => {
  // Each case fails by its timeout: a ready() that never settles.
  it('ready() settles once its thread has started', { timeout: 20_000 }, async () => {
    const watchdog = create();
    await watchdog.ready();
    await watchdog.stop();
  });

  it('ready() settles for a thread that ended before it ever started', { timeout: 20_000 }, async () => {
    const watchdog = create();
    // Stopped in the same tick as the constructor: the thread is terminated during its start-up
    // (tens of milliseconds of a core), before it can say it started, so only its exit settles ready().
    await watchdog.stop();
    await watchdog.ready();
  });
});
