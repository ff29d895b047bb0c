/**
 * Connection name -> driver, opened lazily on first use and reused; also the one place that turns
 * job instances into stored envelopes. The CLI makes one per process; dispatch() in application
 * code uses a default one built from the project's config/queue.ts.
 */
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { ConnectionConfig, DatabaseConnectionConfig, ResolvedConfig } from '../config/define.ts';
import type { SqlDialect } from '../drivers/database/dialects/dialect.ts';
import { loadConfig } from '../config/load.ts';
import type { SyncConnection } from '../drivers/sync/SyncConnection.ts';
import { projectRoot } from '../env.ts';
import { QueueError } from '../errors.ts';
import type { Envelope } from '../jobs/envelope.ts';
import { payloadRules, sealPayload, type PayloadRules } from '../jobs/payload.ts';
import type { Job, JobClass } from '../jobs/Job.ts';
import { packJob } from '../jobs/pack.ts';
import { discoverJobs, type JobRegistry } from '../jobs/registry.ts';
import type { Driver, StoredJob } from './driver.ts';
import type { DispatchOptions } from './types.ts';

type Connection = Driver | SyncConnection;

export class QueueManager {
  private readonly connections = new Map<string, Promise<Connection>>();
  private registryLoading: Promise<JobRegistry> | undefined;
  /** APP_KEY, signing and the size limit: how payloads are sealed and opened. */
  readonly payloads: PayloadRules;

  constructor(
    readonly config: ResolvedConfig,
    readonly root: string,
    readonly log: Logger = pino({ level: 'silent' }),
  ) {
    this.payloads = payloadRules(config);
  }

  static async fromProject(root: string = projectRoot(), log?: Logger): Promise<QueueManager> {
    return new QueueManager(await loadConfig(root), root, log);
  }

  registry(): Promise<JobRegistry> {
    this.registryLoading ??= discoverJobs(this.root, path.resolve(this.root, this.config.jobs));
    return this.registryLoading;
  }

  /** Checks a connection name against the config; undefined means the default. */
  connectionName(name?: string): string {
    const resolved = name ?? this.config.default;
    if (!this.config.connections[resolved]) {
      throw new QueueError('CONNECTION_UNKNOWN', `unknown connection '${resolved}'; config/queue.ts defines: ${Object.keys(this.config.connections).join(', ')}`);
    }
    return resolved;
  }

  connection(name?: string): Promise<Connection> {
    const resolved = this.connectionName(name);
    let opening = this.connections.get(resolved);
    if (!opening) {
      opening = this.open(resolved, this.config.connections[resolved]!);
      this.connections.set(resolved, opening);
      opening.catch(() => this.connections.delete(resolved));
    }
    return opening;
  }

  /** A connection that stores jobs (every one but `sync`). */
  async driver(name?: string): Promise<Driver> {
    const connection = await this.connection(name);
    if (!('reserve' in connection)) {
      throw new QueueError('INVALID_ARGUMENT', `connection '${connection.connection}' runs jobs inline at dispatch and has no stored jobs; name a database or redis connection`);
    }
    return connection;
  }

  private async open(name: string, config: ConnectionConfig): Promise<Connection> {
    switch (config.driver) {
      case 'sync': {
        const { SyncConnection } = await import('../drivers/sync/SyncConnection.ts');
        return new SyncConnection(name, () => this.registry(), this.log);
      }
      case 'redis': {
        const { RedisDriver } = await import('../drivers/redis/RedisDriver.ts');
        const { redisTarget } = await import('../drivers/redis/connect.ts');
        return new RedisDriver(name, redisTarget(config), config.prefix ?? 'queue');
      }
      case 'database': {
        const { DatabaseDriver } = await import('../drivers/database/DatabaseDriver.ts');
        const table = config.table ?? 'queue_jobs';
        const tables = { jobs: table, failed: config.failedTable ?? 'queue_failed_jobs', signals: `${table.replace(/_jobs$/, '')}_signals` };
        return new DatabaseDriver(name, await this.sqlDialect(name, config), tables, { autoMigrate: config.client === 'sqlite' });
      }
    }
  }

  private async sqlDialect(name: string, config: DatabaseConnectionConfig): Promise<SqlDialect> {
    switch (config.client) {
      case 'sqlite':
        return (await import('../drivers/database/dialects/sqlite.ts')).sqliteDialect(path.resolve(this.root, config.filename));
      case 'mysql':
        return (await import('../drivers/database/dialects/mysql.ts')).mysqlDialect(config);
      case 'postgres':
        return (await import('../drivers/database/dialects/postgres.ts')).postgresDialect(config, (error) => {
          this.log.warn({ connection: name, err: error.message }, `database connection '${name}' lost an idle client: ${error.message}`);
        });
    }
  }

  /** Stores jobs (or runs them, on sync) and returns their ids, in order. */
  async push(jobs: Job[], options: DispatchOptions = {}): Promise<string[]> {
    const registry = await this.registry();
    const byConnection = new Map<string, { stored: StoredJob[]; envelopes: Envelope[] }>();
    const ids = jobs.map((job) => {
      const jobClass = job?.constructor as JobClass | undefined;
      const name = jobClass && registry.nameOf(jobClass);
      if (!name) {
        throw new QueueError('JOB_NOT_REGISTERED', `${jobClass?.name || String(job)} is not a registered job: default-export it from a file in ${this.config.jobs}`);
      }
      const { envelope, delayMs } = packJob(job, name, options);
      const connection = this.connectionName(options.connection ?? jobClass.connection);
      const payload = sealPayload(envelope, jobClass.encrypted === true, this.payloads);
      let group = byConnection.get(connection);
      if (!group) byConnection.set(connection, (group = { stored: [], envelopes: [] }));
      group.stored.push({ id: envelope.id, queue: envelope.queue, payload, delayMs, timeout: envelope.timeout });
      group.envelopes.push(envelope);
      return envelope.id;
    });
    for (const [name, { stored, envelopes }] of byConnection) {
      const connection = await this.connection(name);
      if ('reserve' in connection) await connection.push(stored);
      else for (const envelope of envelopes) await connection.run(envelope);
    }
    return ids;
  }

  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(open.map(async (opening) => {
      const connection = await opening;
      if ('close' in connection) await connection.close();
    }));
  }
}
