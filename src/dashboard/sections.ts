/**
 * The dashboard's sections, in one place: each is a page of the navigation (#/<id>) and what it
 * reads (GET /api/<id>). A new page (limits, batches) is one entry here and one renderer of the
 * same id in assets/app.js; the navigation lists the sections the server names, so a page shows
 * only once its data exists.
 */
import { JOB_STATES, type JobState } from '../contract/driver.ts';
import { QueueError } from '../errors.ts';
import { listWorkers } from '../queue/monitoring.ts';
import { checkState } from '../queue/records.ts';
import { listSchedules } from '../queue/schedules.ts';
import type { DashboardContext } from './context.ts';
import type { OverviewReader } from './overview.ts';
import { jobRow, jobView, type JobView } from './views.ts';

export interface SectionRequest {
  context: DashboardContext;
  /** The query string of the request. */
  query: URLSearchParams;
  overview: OverviewReader;
}

export interface Section {
  /** Its route in the page (#/<id>) and the path of its data (/api/<id>). */
  id: string;
  /** Its name in the navigation. */
  title: string;
  read(request: SectionRequest): Promise<unknown>;
}

export const SECTIONS: readonly Section[] = [
  { id: 'overview', title: 'Overview', read: ({ overview }) => overview.read() },
  { id: 'jobs', title: 'Jobs', read: ({ context, query }) => listJobs(context, checkState(query.get('state') ?? 'ready'), query) },
  { id: 'failed', title: 'Failed', read: ({ context, query }) => listJobs(context, 'failed', query) },
  { id: 'workers', title: 'Workers', read: async ({ context }) => ({ workers: await listWorkers(context.manager, context.connection) }) },
  { id: 'schedules', title: 'Schedules', read: ({ context }) => listSchedules(context.manager, context.connection) },
];

/** What the page needs once, at load: where it looks, what it may do, its sections and the states to list. */
export async function readMeta(context: DashboardContext): Promise<unknown> {
  return {
    connection: context.connection,
    backend: context.backend,
    readOnly: context.readOnly,
    sections: SECTIONS.map(({ id, title }) => ({ id, title })),
    states: await listedStates(context),
  };
}

/**
 * The states worth a tab: every one, but `blocked` only when the driver lists such a job (no
 * driver stores one yet; SPEC 14's chains will).
 */
async function listedStates(context: DashboardContext): Promise<JobState[]> {
  const blocked = await context.driver.records.list({ state: 'blocked', limit: 1 });
  return JOB_STATES.filter((state) => state !== 'blocked' || blocked.records.length > 0);
}

/** One page of one state's jobs, newest first, and the queues there are (for the filter). */
async function listJobs(context: DashboardContext, state: JobState, query: URLSearchParams): Promise<unknown> {
  const queue = query.get('queue') || undefined;
  const cursor = query.get('cursor') || undefined;
  const limit = query.has('limit') ? Number(query.get('limit')) : undefined;
  const [page, stats] = await Promise.all([context.driver.records.list({ state, queue, limit, cursor }), context.driver.stats()]);
  return {
    state,
    queue: queue ?? null,
    jobs: page.records.map((record) => jobRow(record, context.manager.payloads)),
    cursor: page.cursor ?? null,
    queues: stats.map((s) => s.queue),
  };
}

/** One job's whole record (search by id); JOB_NOT_FOUND when no record has that id. */
export async function readJob(context: DashboardContext, id: string): Promise<JobView> {
  const record = await context.driver.records.find(id);
  if (!record) throw new QueueError('JOB_NOT_FOUND', `no job with id ${id} on connection '${context.connection}' (finished records are kept for a while)`);
  return jobView(record, context.manager.payloads);
}
