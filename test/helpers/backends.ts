/**
 * The backends the contract suite runs against. Locally, one that cannot be reached is skipped with
 * a line that says so; under CI (CI=true) every backend is required and a missing one fails.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseDriver } from '../../src/drivers/database/DatabaseDriver.ts';
import { sqliteDialect } from '../../src/drivers/database/dialects/sqlite.ts';
import { env } from '../../src/env.ts';
import type { Driver } from '../../src/queue/driver.ts';
import { Redis } from 'ioredis';
import { redisTarget } from '../../src/drivers/redis/connect.ts';
import { RedisDriver } from '../../src/drivers/redis/RedisDriver.ts';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** Whether Redis answers PING within a second; the reason when it does not. */
export async function redisUnavailable(url = REDIS_URL): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `cannot reach ${url.replace(/\/\/[^@]*@/, '//')}: ${(error as Error).message}`;
  } finally {
    client.disconnect();
  }
}

/** Deletes every key under a prefix (test isolation). */
export async function deleteRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const client = new Redis(url);
  try {
    const keys: string[] = [];
    for (let cursor = '0'; ; ) {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
      if (cursor === '0') break;
    }
    for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
  } finally {
    client.disconnect();
  }
}

export function redisBackend(): Backend {
  const prefixes: string[] = [];
  const open = (connection = 'redis') => new RedisDriver(connection, redisTarget({ driver: 'redis', url: REDIS_URL }), prefixes.at(-1)!);
  return {
    name: 'redis',
    unavailable: () => redisUnavailable(),
    async create(connection) {
      prefixes.push(`test-${randomUUID()}`);
      return open(connection);
    },
    async sibling() {
      return open();
    },
    async cleanup() {
      for (const prefix of prefixes) await deleteRedisPrefix(prefix);
    },
  };
}

export interface Backend {
  name: string;
  /** Resolves to a reason when the backend cannot be reached. */
  unavailable(): Promise<string | undefined>;
  /** A fresh, empty driver; each call is isolated from the others. */
  create(connection?: string): Promise<Driver>;
  /** A second driver on the same storage as the last create() (another worker process). */
  sibling(): Promise<Driver>;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(path.join(tmpdir(), 'queue-contract-'));
  let counter = 0;
  let current = '';
  const open = (file: string, connection = 'database') =>
    new DatabaseDriver(connection, sqliteDialect(file), { jobs: 'queue_jobs', failed: 'queue_failed_jobs', signals: 'queue_signals' }, { autoMigrate: true });
  return {
    name: 'sqlite',
    unavailable: async () => undefined,
    async create(connection) {
      current = path.join(dir, `db-${++counter}.sqlite`);
      return open(current, connection);
    },
    async sibling() {
      return open(current);
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const backends: (() => Backend)[] = [sqliteBackend, redisBackend];

/** Returns the reason to skip, or throws under CI where every backend is required. */
export async function skipReason(backend: Backend): Promise<string | undefined> {
  const reason = await backend.unavailable();
  if (reason === undefined) return undefined;
  if (env.isCI()) throw new Error(`backend ${backend.name} is required under CI but unreachable: ${reason}`);
  console.log(`# skipping backend ${backend.name}: ${reason}`);
  return reason;
}
