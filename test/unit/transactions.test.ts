/**
 * Dispatch in the application's transactions: `{ transaction: trx }` stores the job in the same SQL
 * transaction; `{ afterCommit: trx }` in Queue.transaction() stores it once the transaction commits,
 * on any backend (here Redis, with the application's data in SQLite), and drops it on rollback.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { defineConfig } from '../../src/config/define.ts';
import { sqliteDialect } from '../../src/drivers/database/dialects/sqlite.ts';
import { QueueManager } from '../../src/queue/manager.ts';
import { Queue } from '../../src/queue/dispatch.ts';
import { deleteRedisPrefix, REDIS_URL, redisBackend, skipReason } from '../helpers/backends.ts';
import { fixtureProject } from '../helpers/cli.ts';

const { default: Record } = await import('../fixtures/project/app/jobs/Record.ts');
const dir = mkdtempSync(path.join(tmpdir(), 'queue-transactions-'));
const prefix = `trx-${randomUUID()}`;
const manager = new QueueManager(defineConfig({
  default: 'database',
  connections: {
    database: { driver: 'database', client: 'sqlite', filename: path.join(dir, 'queue.sqlite') },
    redis: { driver: 'redis', url: REDIS_URL, prefix },
  },
}), fixtureProject);
const app = sqliteDialect(path.join(dir, 'queue.sqlite')).connect();
const noRedis = await skipReason(redisBackend());

describe('dispatch in an application transaction', () => {
  after(async () => {
    await manager.close();
    await app.destroy();
    await deleteRedisPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('{ transaction } on the same SQL database: stored with a commit, gone with a rollback', async () => {
    await manager.driver('database').then((d) => d.size('default'));
    await app.transaction().execute(async (trx) => {
      await sql`create table if not exists orders (id text)`.execute(trx);
      await manager.push([new Record()], { transaction: trx, queue: 'kept' });
    });
    await assert.rejects(app.transaction().execute(async (trx) => {
      await manager.push([new Record()], { transaction: trx, queue: 'dropped' });
      throw new Error('rolled back');
    }), /rolled back/);
    const driver = await manager.driver('database');
    assert.equal(await driver.size('kept'), 1);
    assert.equal(await driver.size('dropped'), 0);
  });

  it('{ transaction } on a connection that is not that database is refused with one line', async () => {
    await assert.rejects(app.transaction().execute((trx) => manager.push([new Record()], { transaction: trx, connection: 'redis' })), /connection 'redis' stores jobs outside SQL, so it cannot store a job inside an SQL transaction; dispatch with \{ afterCommit: trx \}/);
  });

  it('{ afterCommit } on Redis: stored once the transaction commits, dropped when it rolls back', { skip: noRedis }, async () => {
    const driver = await manager.driver('redis');
    await Queue.transaction(app, async (trx) => {
      await manager.push([new Record()], { afterCommit: trx, connection: 'redis', queue: 'after' });
      assert.equal(await driver.size('after'), 0, 'not before the commit');
    });
    assert.equal(await driver.size('after'), 1, 'stored once it committed');
    await assert.rejects(Queue.transaction(app, async (trx) => {
      await manager.push([new Record()], { afterCommit: trx, connection: 'redis', queue: 'never' });
      throw new Error('rolled back');
    }), /rolled back/);
    assert.equal(await driver.size('never'), 0, 'dropped with the rollback');
    await assert.rejects(app.transaction().execute((trx) => manager.push([new Record()], { afterCommit: trx })), /\{ afterCommit \} takes a transaction run by Queue\.transaction/);
  });
});
