/**
 * The backends the contract suite runs against. Locally, one that cannot be reached is skipped with
 * a line that says so; under CI (CI=true) every backend is required and a missing one fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseDriver } from '../../src/drivers/database/DatabaseDriver.ts';
import { sqliteDialect } from '../../src/drivers/database/dialects/sqlite.ts';
import { env } from '../../src/env.ts';
import type { Driver } from '../../src/queue/driver.ts';

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

export const backends: (() => Backend)[] = [sqliteBackend];

/** Returns the reason to skip, or throws under CI where every backend is required. */
export async function skipReason(backend: Backend): Promise<string | undefined> {
  const reason = await backend.unavailable();
  if (reason === undefined) return undefined;
  if (env.isCI()) throw new Error(`backend ${backend.name} is required under CI but unreachable: ${reason}`);
  console.log(`# skipping backend ${backend.name}: ${reason}`);
  return reason;
}
