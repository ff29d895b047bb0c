/**
 * What ON CONFLICT DO NOTHING costs a PostgreSQL push (dialects/dialect.ts failureAborts): bulks of
 * 1,000 rows sent with pg into fresh tables of the push's own shape (migrated by the driver), in the
 * statement sql/insertJobs.ts sends (rows from unnest() of one array per column, the NOTIFY in the
 * same statement), with and without the skip clause; plain rows, and rows with a unique key each
 * (its number, counting up over the run) as the push of unique jobs sent them before (skipping, counting the rows stored, in a transaction
 * with a savepoint) and now (no clause). Prints the median ms a bulk of each, rounds after a first
 * untimed one.
 *
 *   node --import tsx test/bench/profile/pg-skip-clause.ts [--rounds 7] [--bulks 20]
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { jobId } from '../../../src/jobs/pack.ts';
import { POSTGRES_URL } from '../../helpers/backends.ts';
import { median } from '../lib/common.ts';
import { withLoadedTables } from '../lib/sql.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, bulks: { type: 'string', default: '20' } } });
const [rounds, bulks] = [Number(values.rounds), Number(values.bulks)];
if (![rounds, bulks].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--rounds and --bulks take whole numbers >= 1');
const ROWS = 1_000;
const NOW = '(extract(epoch from statement_timestamp()) * 1000)::bigint';

interface Variant {
  name: string;
  /** A unique key each row. */
  keyed: boolean;
  /** ON CONFLICT DO NOTHING; keyed, also counting the rows stored, inside BEGIN and a SAVEPOINT. */
  skipping: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'plain, skipping', keyed: false, skipping: true },
  { name: 'plain, no clause', keyed: false, skipping: false },
  { name: 'unique, skipping and counted', keyed: true, skipping: true },
  { name: 'unique, no clause', keyed: true, skipping: false },
];

function statementOf(table: string, variant: Variant): string {
  const columns = ['job_id', 'queue', 'payload', 'timeout_ms', 'available_at', ...(variant.keyed ? ['unique_key'] : [])];
  const arrays = ['string_to_array($1, chr(10))', 'string_to_array($2, chr(10))', 'string_to_array($3, chr(10))', '$4::bigint[]', '$5::bigint[]', ...(variant.keyed ? ['string_to_array($6, chr(10))'] : [])];
  const selected = columns.map((column) => (column === 'available_at' ? `${NOW} + available_at` : column));
  const insert = `insert into "${table}" (${columns.join(', ')}, created_at) select ${selected.join(', ')}, ${NOW} from unnest(${arrays.join(', ')}) as r(${columns.join(', ')})${variant.skipping ? ' on conflict do nothing' : ''}`;
  const [channel, queues] = [`$${columns.length + 1}`, `$${columns.length + 2}`];
  const told = `select pg_notify(${channel}, q) from unnest(${queues}::text[]) as q`;
  if (variant.skipping && variant.keyed) return `with stored as (${insert} returning 1), told as (${told}) select (select count(*) from stored) as stored, (select count(*) from told) as told`;
  return `with stored as (${insert}) ${told}`;
}

let keys = 0;
function bulkOf(variant: Variant): unknown[] {
  const ids: string[] = [];
  const payloads: string[] = [];
  const uniqueKeys: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    const id = jobId();
    ids.push(id);
    uniqueKeys.push(String(keys++));
    payloads.push(JSON.stringify({ v: 1, id, job: 'UniqueNoop', queue: 'bench', data: { i: keys, t: 0 }, attempts: 0, maxTries: null }));
  }
  return [ids.join('\n'), Array(ROWS).fill('bench').join('\n'), payloads.join('\n'), Array(ROWS).fill(null), Array(ROWS).fill(0), ...(variant.keyed ? [uniqueKeys.join('\n')] : []), 'bench_ready', ['bench']];
}

const msOf: Record<string, number[]> = {};
for (let round = 0; round <= rounds; round++) {
  for (const variant of VARIANTS) {
    await withLoadedTables('postgres', 0, async (_ours, _pushed, setup) => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        const text = statementOf(setup.config.table!, variant);
        const sent = Array.from({ length: bulks }, () => bulkOf(variant));
        const wrapped = variant.keyed && variant.skipping;
        const start = performance.now();
        for (const params of sent) {
          if (wrapped) for (const step of ['begin', 'savepoint queue_push']) await client.query(step);
          await client.query(text, params);
          if (wrapped) for (const step of ['release savepoint queue_push', 'commit']) await client.query(step);
        }
        if (round > 0) (msOf[variant.name] ??= []).push((performance.now() - start) / bulks);
      } finally {
        await client.end();
      }
    });
  }
}
for (const variant of VARIANTS) {
  console.log(`${variant.name}: ${median(msOf[variant.name]!).toFixed(1)} ms a bulk of ${ROWS} (rounds: ${msOf[variant.name]!.map((ms) => ms.toFixed(1)).join(', ')})`);
}
