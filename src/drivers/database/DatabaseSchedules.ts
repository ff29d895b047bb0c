/**
 * The schedules' store on SQL (SPEC 12): one row per schedule in the schedules table. A cursor moves
 * on by a compare-and-set UPDATE (last_at below the occurrence), and the occurrence's job is stored
 * in the same transaction, through the push: two workers that fire one occurrence at once meet at
 * the row's lock, and the second finds the cursor moved and stores nothing.
 */
import type { Kysely } from 'kysely';
import type { ScheduleCursor, ScheduleSetting, ScheduleState, ScheduleStore, StoredJob } from '../../contract/driver.ts';
import type { SqlDialect } from './dialects/dialect.ts';
import type { TableNames, Tables } from './schema.ts';
import { insertJobs } from './sql/insertJobs.ts';

type Call = <T>(what: string, work: (db: Kysely<Tables>) => Promise<T>) => Promise<T>;

export class DatabaseSchedules implements ScheduleStore {
  constructor(
    private readonly connection: string,
    private readonly tables: TableNames,
    private readonly dialect: SqlDialect,
    private readonly call: Call,
  ) {}

  private get table() {
    return this.tables.schedules as 'queue_schedules';
  }

  /** Inside a write transaction: the schedule's row, made if it has none (two makers at once: one row). */
  private async ensureRow(trx: Kysely<Tables>, name: string): Promise<void> {
    const insert = trx.insertInto(this.table).values({ name, last_at: null, fired_at: null, definition: null });
    await (this.dialect.client === 'mysql' ? insert.ignore() : insert.onConflict((oc) => oc.column('name').doNothing())).execute();
  }

  advance(cursor: ScheduleCursor, at: number, job: StoredJob | null): Promise<boolean> {
    return this.call('advance a schedule', (db) => this.dialect.writeTransaction(db, async (trx) => {
      await this.ensureRow(trx, cursor.name);
      const moved = await trx
        .updateTable(this.table)
        .set({ last_at: at, ...(job ? { fired_at: this.dialect.now() } : {}) })
        .where('name', '=', cursor.name)
        .where((eb) => eb.or([eb('last_at', 'is', null), eb('last_at', '<', at)]))
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) return false;
      if (job) await insertJobs(trx, this.tables.jobs, [job], this.dialect, this.connection, true);
      return true;
    }));
  }

  async states(cursors: ScheduleCursor[]): Promise<ScheduleState[]> {
    if (cursors.length === 0) return [];
    const rows = await this.call('read schedules', (db) =>
      db.selectFrom(this.table).select(['name', 'last_at', 'fired_at']).where('name', 'in', cursors.map((c) => c.name)).execute());
    const byName = new Map(rows.map((row) => [row.name, row]));
    return cursors.map(({ name }) => {
      const row = byName.get(name);
      return { name, lastAt: row?.last_at == null ? null : Number(row.last_at), firedAt: row?.fired_at == null ? null : Number(row.fired_at) };
    });
  }

  async settings(): Promise<ScheduleSetting[]> {
    const rows = await this.call('read schedules', (db) =>
      db.selectFrom(this.table).select(['name', 'definition', 'paused']).where((eb) => eb.or([eb('definition', 'is not', null), eb('paused', '=', 1)])).orderBy('name').execute());
    return rows.map((row) => ({ name: row.name, definition: row.definition, paused: Number(row.paused) === 1 }));
  }

  async define(name: string, definition: string): Promise<void> {
    await this.set('add a schedule', name, { definition });
  }

  async undefine(name: string): Promise<boolean> {
    const removed = await this.call('remove a schedule', (db) =>
      db.updateTable(this.table).set({ definition: null, paused: 0 }).where('name', '=', name).where('definition', 'is not', null).executeTakeFirst());
    return Number(removed.numUpdatedRows) > 0;
  }

  async pause(name: string, paused: boolean): Promise<void> {
    await this.set(paused ? 'pause a schedule' : 'resume a schedule', name, { paused: paused ? 1 : 0 });
  }

  private async set(what: string, name: string, values: { definition?: string; paused?: number }): Promise<void> {
    await this.call(what, (db) => this.dialect.writeTransaction(db, async (trx) => {
      await this.ensureRow(trx, name);
      await trx.updateTable(this.table).set(values).where('name', '=', name).execute();
    }));
  }
}
