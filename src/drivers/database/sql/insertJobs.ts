/**
 * The push: INSERT of new job rows, skipping rows whose job_id is already stored (a push sent again
 * after a dropped connection stores nothing twice). A bulk is split into statements of at most
 * INSERT_CHUNK rows (SQLite's bound-parameter limit) and, where the server caps one statement
 * (MySQL's max_allowed_packet), of at most that many bytes as sent; several statements go in one
 * transaction, so a bulk is still all or nothing.
 *
 * Parameters: the jobs; the dialect (its clock, its skip clause, its statement limit).
 */
import { sql, type Kysely } from 'kysely';
import type { StoredJob } from '../../../contract/driver.ts';
import { QueueError } from '../../../errors.ts';
import type { SqlDialect } from '../dialects/dialect.ts';
import type { Tables } from '../schema.ts';

const INSERT_CHUNK = 500;
/** Room left in a statement for its SQL text and one row's other columns. */
const STATEMENT_OVERHEAD_BYTES = 64 * 1024;

export async function insertJobs(db: Kysely<Tables>, table: string, jobs: StoredJob[], dialect: SqlDialect, connection: string): Promise<void> {
  const jobsTable = table as 'queue_jobs';
  const now = dialect.now();
  const rows = jobs.map((job) => ({
    job_id: job.id,
    queue: job.queue,
    payload: job.payload,
    attempts: 0,
    timeout_ms: job.timeoutMs,
    available_at: sql<number>`${now} + ${Math.max(0, Math.round(job.delayMs))}`,
    reserved_by: null,
    created_at: now,
  }));
  const chunks = statementsFor(jobs, dialect, connection);
  const insert = (into: Kysely<Tables>, [from, to]: [number, number]) => dialect.skipStoredIds(into.insertInto(jobsTable).values(rows.slice(from, to))).execute();
  if (chunks.length === 1) {
    await insert(db, chunks[0]!);
    return;
  }
  await dialect.writeTransaction(db, async (trx) => {
    for (const chunk of chunks) await insert(trx, chunk);
  });
}

/** [from, to) row ranges, one INSERT each. */
function statementsFor(jobs: StoredJob[], dialect: SqlDialect, connection: string): [number, number][] {
  const limit = dialect.statementBytes === undefined ? Number.POSITIVE_INFINITY : dialect.statementBytes - STATEMENT_OVERHEAD_BYTES;
  const chunks: [number, number][] = [];
  let from = 0;
  let bytes = 0;
  jobs.forEach((job, i) => {
    const size = limit === Number.POSITIVE_INFINITY ? 0 : escapedBytes(job.payload);
    if (size > limit) {
      throw new QueueError(
        'JOB_NOT_SERIALIZABLE',
        `job ${job.id} is ${size} bytes as sent, over what one statement may carry on ${dialect.client} connection '${connection}' (${dialect.describe}: max_allowed_packet is ${dialect.statementBytes}); raise max_allowed_packet on the server, or lower QUEUE_MAX_PAYLOAD_BYTES to match`,
      );
    }
    if (i > from && (i - from >= INSERT_CHUNK || bytes + size > limit)) {
      chunks.push([from, i]);
      from = i;
      bytes = 0;
    }
    bytes += size;
  });
  chunks.push([from, jobs.length]);
  return chunks;
}

/**
 * What a payload weighs in a MySQL statement: mysql2 escapes quotes, backslashes and control
 * characters with a backslash each, and JSON is full of quotes.
 */
function escapedBytes(payload: string): number {
  let escapes = 0;
  for (let i = 0; i < payload.length; i += 1) {
    const c = payload.charCodeAt(i);
    if (c === 34 || c === 39 || c === 92 || c < 32 || c === 26) escapes += 1;
  }
  return Buffer.byteLength(payload) + escapes;
}
