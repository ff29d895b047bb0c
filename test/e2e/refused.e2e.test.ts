/**
 * A server that refuses us (a wrong password, an unknown user, a database that does not exist) is
 * one line that names the connection, host:port and the setting to fix, never the password; and a
 * worker facing one says so once, not on every try.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { redisBackend, serverDatabaseBackend, skipReason } from '../helpers/backends.ts';
import { logLines, run, testEnv } from '../helpers/cli.ts';
import { privateRedis, type PrivateServer } from '../helpers/servers.ts';

/** `queue status` must fail in exactly this one line, with no password anywhere in its output. */
async function refused(env: Record<string, string>, line: RegExp, secret?: string): Promise<void> {
  const result = await run(['status'], testEnv(env));
  assert.equal(result.code, 1, result.stdout);
  assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, result.stderr);
  assert.match(result.stderr.trim(), line);
  if (secret) assert.ok(!(result.stdout + result.stderr).includes(secret), 'no password in the output');
}

describe('MariaDB refusing us', { skip: await skipReason(serverDatabaseBackend('mysql')) }, () => {
  const database = { QUEUE_CONNECTION: 'database', DB_CONNECTION: 'mysql' };
  it('a wrong password', async () => {
    const secret = `Pw${randomUUID().slice(0, 8)}`;
    await refused({ ...database, DATABASE_URL: `mysql://root:${secret}@127.0.0.1:3306/test` }, /^error: cannot .* on mysql connection 'database' \(127\.0\.0\.1:3306\): Access denied for user 'root'@'[^']+' \(using password: YES\); check DB_USER and DB_PASS, or the user and password in DATABASE_URL$/, secret);
  });
  it('an unknown user', async () => {
    await refused({ ...database, DATABASE_URL: 'mysql://nobody_here@127.0.0.1:3306/test' }, /^error: cannot .* on mysql connection 'database' \(127\.0\.0\.1:3306\): Access denied for user 'nobody_here'@'[^']+'.*; check DB_USER and DB_PASS, or the user and password in DATABASE_URL$/);
  });
  it('an unknown database', async () => {
    await refused({ ...database, DATABASE_URL: 'mysql://root@127.0.0.1:3306/no_such_db' }, /^error: cannot .* on mysql connection 'database' \(127\.0\.0\.1:3306\): Unknown database 'no_such_db'; create that database, or fix DB_NAME or the database in DATABASE_URL$/);
  });
  it('a worker says it once per outage, not on every try', async () => {
    const result = await run(['work', '--max-time', '4', '--sleep', '0.2'], testEnv({ ...database, DATABASE_URL: 'mysql://root@127.0.0.1:3306/no_such_db' }));
    assert.equal(result.code, 0, result.stderr);
    const lines = logLines(result.stdout);
    const errors = lines.filter((line) => line.level === 50);
    assert.equal(errors.length, 1, result.stdout);
    assert.match(String(errors[0]!.msg), /Unknown database 'no_such_db'; create that database, .*; retrying in 0.2s, and every 30s at most until it answers$/);
    assert.ok(!lines.some((line) => String(line.msg).startsWith('worker started')), 'no "started" before the backend answered');
  });
});

describe('PostgreSQL refusing us', { skip: await skipReason(serverDatabaseBackend('postgres')) }, () => {
  const database = { QUEUE_CONNECTION: 'database', DB_CONNECTION: 'postgres' };
  it('an unknown user', async () => {
    await refused({ ...database, DATABASE_URL: 'postgres://nobody_here@127.0.0.1:5432/test' }, /^error: cannot .* on postgres connection 'database' \(127\.0\.0\.1:5432\): role "nobody_here" does not exist; check DB_USER and DB_PASS, or the user and password in DATABASE_URL$/);
  });
  it('an unknown database', async () => {
    await refused({ ...database, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/no_such_db' }, /^error: cannot .* on postgres connection 'database' \(127\.0\.0\.1:5432\): database "no_such_db" does not exist; create that database, or fix DB_NAME or the database in DATABASE_URL$/);
  });
});

describe('Redis with a password, on a server of the test\'s own', { skip: await skipReason(redisBackend()) }, () => {
  const password = `Pw${randomUUID().slice(0, 8)}`;
  let server: PrivateServer;
  before(async () => {
    server = await privateRedis(['--requirepass', password]);
  });
  after(() => server.cleanup());

  it('a wrong password (WRONGPASS)', async () => {
    const secret = `Wrong${randomUUID().slice(0, 8)}`;
    await refused({ QUEUE_CONNECTION: 'redis', REDIS_URL: `redis://:${secret}@127.0.0.1:${server.port}/0` }, new RegExp(`^error: cannot .* on Redis connection 'redis' \\(127\\.0\\.0\\.1:${server.port}\\): WRONGPASS [^;]*; check REDIS_PASSWORD \\(and REDIS_USERNAME\\), or the password in REDIS_URL$`), secret);
  });
  it('no password where one is required (NOAUTH)', async () => {
    await refused({ QUEUE_CONNECTION: 'redis', REDIS_URL: `redis://127.0.0.1:${server.port}/0` }, new RegExp(`^error: cannot .* on Redis connection 'redis' \\(127\\.0\\.0\\.1:${server.port}\\): NOAUTH Authentication required; this server wants a password: set REDIS_PASSWORD, or put it in REDIS_URL$`));
  });
  it('the right password works', async () => {
    const result = await run(['status', '--json'], testEnv({ QUEUE_CONNECTION: 'redis', REDIS_URL: `redis://127.0.0.1:${server.port}/0`, REDIS_PASSWORD: password }));
    assert.equal(result.code, 0, result.stderr);
  });
});
