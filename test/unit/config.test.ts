import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { defineConfig, type ConnectionConfig, type QueueConfig } from '../../src/config/define.ts';
import { env } from '../../src/env.ts';
import { queueError } from '../helpers/errors.ts';

const configInvalid = (...parts: string[]) => queueError('CONFIG_INVALID', ...parts);

describe('defineConfig', () => {
  const connections: Record<string, ConnectionConfig> = {
    database: { driver: 'database', client: 'sqlite', filename: 'storage/queue.sqlite' },
    sync: { driver: 'sync' },
  };

  it('fills in the defaults for jobs and leaseMargin', () => {
    const config = defineConfig({ default: 'sync', connections });
    assert.equal(config.jobs, 'app/jobs');
    assert.equal(config.leaseMargin, 30);
    assert.equal(config.default, 'sync');
    assert.deepEqual(Object.keys(config.connections), ['database', 'sync']);
  });

  it('fills in the defaults when a field is explicitly undefined (as env.optional() gives)', () => {
    const config = defineConfig({ default: 'sync', connections, jobs: undefined, leaseMargin: undefined });
    assert.equal(config.jobs, 'app/jobs');
    assert.equal(config.leaseMargin, 30);
  });

  it('keeps values the config sets', () => {
    const config = defineConfig({ default: 'database', connections, jobs: 'src/jobs', leaseMargin: 5 });
    assert.equal(config.jobs, 'src/jobs');
    assert.equal(config.leaseMargin, 5);
  });

  it('refuses a default that is not a defined connection, listing the defined ones', () => {
    assert.throws(() => defineConfig({ default: 'redis', connections }), configInvalid("'redis'", 'database, sync'));
  });

  it('refuses an unknown driver, naming the connection and the driver', () => {
    const config = { default: 'main', connections: { main: { driver: 'rabbitmq' } } } as unknown as QueueConfig;
    assert.throws(() => defineConfig(config), configInvalid("'main'", "'rabbitmq'"));
  });

  it('refuses an sqlite connection without a filename', () => {
    const config = { default: 'db', connections: { db: { driver: 'database', client: 'sqlite' } } } as unknown as QueueConfig;
    assert.throws(() => defineConfig(config), configInvalid("'db'", 'filename'));
  });

  it('refuses an unsupported database client', () => {
    const config = { default: 'db', connections: { db: { driver: 'database', client: 'oracle', filename: 'x' } } } as unknown as QueueConfig;
    assert.throws(() => defineConfig(config), configInvalid("'oracle'", 'sqlite'));
  });

  it('refuses a table name that is not a plain identifier', () => {
    const db: ConnectionConfig = { driver: 'database', client: 'sqlite', filename: 'q.sqlite', table: 'jobs; DROP TABLE x' };
    assert.throws(() => defineConfig({ default: 'db', connections: { db } }), configInvalid('table'));
  });

  it('refuses no connections, bad connection names and a negative leaseMargin', () => {
    assert.throws(() => defineConfig({ default: 'x', connections: {} }), configInvalid('no connections'));
    assert.throws(() => defineConfig({ default: 'my conn', connections: { 'my conn': { driver: 'sync' } } }), configInvalid("'my conn'"));
    assert.throws(() => defineConfig({ default: 'sync', connections, leaseMargin: -1 }), configInvalid('leaseMargin'));
  });
});

describe('env helpers', () => {
  const names = ['X_TEST_INT', 'X_TEST_ONE_OF', 'X_TEST_URL', 'X_TEST_BOOL', 'X_TEST_STRING'];
  const saved = new Map(names.map((name) => [name, process.env[name]]));

  afterEach(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('env.int reads whole numbers and falls back when unset or empty', () => {
    delete process.env.X_TEST_INT;
    assert.equal(env.int('X_TEST_INT', 7), 7);
    process.env.X_TEST_INT = '';
    assert.equal(env.int('X_TEST_INT', 7), 7);
    process.env.X_TEST_INT = '42';
    assert.equal(env.int('X_TEST_INT', 7), 42);
  });

  it('env.int refuses a non-number or an out-of-range value, naming the variable', () => {
    process.env.X_TEST_INT = 'abc';
    assert.throws(() => env.int('X_TEST_INT', 1), configInvalid('X_TEST_INT', 'abc'));
    process.env.X_TEST_INT = '1.5';
    assert.throws(() => env.int('X_TEST_INT', 1), configInvalid('X_TEST_INT'));
    process.env.X_TEST_INT = '11';
    assert.throws(() => env.int('X_TEST_INT', 1, { min: 0, max: 10 }), configInvalid('X_TEST_INT', '0 to 10'));
  });

  it('env.oneOf accepts a listed value and refuses others, naming the variable and the choices', () => {
    process.env.X_TEST_ONE_OF = 'b';
    assert.equal(env.oneOf('X_TEST_ONE_OF', ['a', 'b'] as const, 'a'), 'b');
    process.env.X_TEST_ONE_OF = 'c';
    assert.throws(() => env.oneOf('X_TEST_ONE_OF', ['a', 'b'] as const, 'a'), configInvalid('X_TEST_ONE_OF', 'a, b'));
  });

  it('env.bool understands the usual spellings and refuses others', () => {
    process.env.X_TEST_BOOL = 'Yes';
    assert.equal(env.bool('X_TEST_BOOL', false), true);
    process.env.X_TEST_BOOL = 'off';
    assert.equal(env.bool('X_TEST_BOOL', true), false);
    process.env.X_TEST_BOOL = 'maybe';
    assert.throws(() => env.bool('X_TEST_BOOL', true), configInvalid('X_TEST_BOOL'));
  });

  it('env.string uses the fallback, and names a required variable that is unset', () => {
    delete process.env.X_TEST_STRING;
    assert.equal(env.string('X_TEST_STRING', 'fallback'), 'fallback');
    assert.throws(() => env.string('X_TEST_STRING'), configInvalid('X_TEST_STRING'));
  });

  it('env.url returns the URL when the protocol is allowed', () => {
    process.env.X_TEST_URL = 'redis://user:pw@localhost:6379/0';
    assert.equal(env.url('X_TEST_URL', ['redis:', 'rediss:'])?.hostname, 'localhost');
    delete process.env.X_TEST_URL;
    assert.equal(env.url('X_TEST_URL', ['redis:']), undefined);
  });

  it('env.url with the wrong protocol names the variable but never echoes the password', () => {
    process.env.X_TEST_URL = 'ftp://user:s3cret@host';
    assert.throws(() => env.url('X_TEST_URL', ['redis:']), (error: unknown) => {
      configInvalid('X_TEST_URL', 'redis://')(error);
      assert.ok(!(error as Error).message.includes('s3cret'), (error as Error).message);
      return true;
    });
  });

  it('env.url with an unparseable value never echoes it', () => {
    process.env.X_TEST_URL = 'redis//user:s3cret@host';
    assert.throws(() => env.url('X_TEST_URL', ['redis:']), (error: unknown) => {
      configInvalid('X_TEST_URL')(error);
      assert.ok(!(error as Error).message.includes('s3cret'), (error as Error).message);
      return true;
    });
  });
});
