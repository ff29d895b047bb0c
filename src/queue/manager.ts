/**
 * Connection name -> connection (connections.ts), opened lazily on first use and reused; also the
 * one place that turns job instances into stored envelopes. The CLI makes one per process;
 * dispatch() in application code uses a default one built from the project's config/queue.ts.
 */
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { ConnectionConfig, ResolvedConfig } from '../config/define.ts';
import { loadConfig, loadSchedule } from '../config/load.ts';
import type { ScheduleEntry } from '../config/schedule.ts';
import type { Driver, Pushed } from '../contract/driver.ts';
import { withPackage } from '../drivers/optional-package.ts';
import { projectRoot } from '../env.ts';
import { QueueError } from '../errors.ts';
import type { Job, JobClass } from '../jobs/Job.ts';
import { packJob } from '../jobs/pack.ts';
import { payloadRules, sealPayload, type PayloadRules } from '../jobs/payload.ts';
import { discoverJobs, type JobRegistry } from '../jobs/registry.ts';
import { timeoutMsOf, type DispatchOptions } from '../jobs/settings.ts';
import { storeAfterCommit } from './after-commit.ts';
import { inlineConnection, storingConnection, type Connection, type PackedJob } from './connections.ts';

export class QueueManager {
  private readonly connections = new Map<string, Promise<Connection>>();
  private registryLoading: Promise<JobRegistry> | undefined;
  private scheduleLoading: Promise<ScheduleEntry[]> | undefined;
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
    return (await this.connection(name)).driver();
  }

  private async open(name: string, config: ConnectionConfig): Promise<Connection> {
    switch (config.driver) {
      case 'sync': {
        const { InlineRunner } = await import('../running/inline.ts');
        return inlineConnection(new InlineRunner(name, () => this.registry(), this.log));
      }
      case 'redis':
        return storingConnection((await withPackage('ioredis', name, () => import('../drivers/redis/open.ts'))).openRedis(name, config));
      case 'database': {
        const onIdleClientError = (error: Error) => this.log.warn({ connection: name, err: error.message }, `database connection '${name}' lost an idle client: ${error.message}`);
        return storingConnection(await (await import('../drivers/database/open.ts')).openDatabase(name, config, this.root, onIdleClientError));
      }
    }
  }

  /**
   * Stores jobs (or runs them, on sync); returns what became of each, in order: its id, or for a
   * unique job whose key is held, the holder's id and `duplicate: true`. Stored after a commit
   * (`afterCommit`), a job is reported as itself: its duplicates are found at the commit.
   */
  async push(jobs: Job[], options: DispatchOptions = {}): Promise<Pushed[]> {
    const registry = await this.registry();
    const byConnection = new Map<string, { packed: PackedJob[]; at: number[] }>();
    const outcomes: Pushed[] = jobs.map((job, i) => {
      const { connection, packed } = this.pack(registry, job, options);
      let group = byConnection.get(connection);
      if (!group) byConnection.set(connection, (group = { packed: [], at: [] }));
      group.packed.push(packed);
      group.at.push(i);
      return { id: packed.envelope.id, duplicate: false };
    });
    const { transaction, afterCommit } = options;
    if (transaction !== undefined && afterCommit !== undefined) throw new QueueError('INVALID_ARGUMENT', 'a dispatch takes { transaction } or { afterCommit }, not both');
    const store = async () => {
      for (const [name, { packed, at }] of byConnection) {
        const connection = await this.connection(name);
        const pushed = await (transaction === undefined ? connection.dispatch(packed) : connection.dispatchIn(transaction, packed));
        pushed.forEach((outcome, i) => (outcomes[at[i]!] = outcome));
      }
    };
    if (afterCommit === undefined) await store();
    else storeAfterCommit(afterCommit, store);
    return outcomes;
  }

  /** A job made ready to store: its envelope (named `id`, or a new id), sealed, and where it goes; the connection it goes to. */
  pack(registry: JobRegistry, job: Job, options: DispatchOptions, id?: string): { connection: string; packed: PackedJob } {
    const jobClass = job?.constructor as JobClass | undefined;
    const name = jobClass && registry.nameOf(jobClass);
    if (!name) {
      throw new QueueError('JOB_NOT_REGISTERED', `${jobClass?.name || String(job)} is not a registered job: default-export it from a file in ${this.config.jobs}`);
    }
    const { envelope, placement } = packJob(job, name, options, id);
    const payload = sealPayload(envelope, jobClass.encrypted === true, this.payloads);
    return {
      connection: this.connectionName(options.connection ?? jobClass.connection),
      packed: { envelope, stored: { id: envelope.id, queue: envelope.queue, payload, timeoutMs: timeoutMsOf(envelope), ...placement } },
    };
  }

  /** The schedules of config/schedule.ts, loaded once. */
  schedule(): Promise<ScheduleEntry[]> {
    this.scheduleLoading ??= loadSchedule(this.root);
    return this.scheduleLoading;
  }

  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(open.map(async (opening) => (await opening).close()));
  }
}
