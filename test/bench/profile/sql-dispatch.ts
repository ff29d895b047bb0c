/**
 * Dispatch on SQL, plain jobs against priority and unique ones (the bench's `--jobs` kinds): per
 * backend, the bench's own measure (lib/sql.ts sqlDispatch: `one` jobs pushed one at a time, then
 * `bulk` in calls of 1,000, into fresh tables), the kinds in turn for `rounds` rounds after a
 * warm-up round; prints the median rate of each and its ratio to plain jobs'.
 *
 *   node --import tsx test/bench/profile/sql-dispatch.ts [sqlite|mariadb|postgres ...] [--rounds 3] [--one 1000] [--bulk 20000]
 */
import { parseArgs } from 'node:util';
import { JOBS, median } from '../lib/common.ts';
import { SQL_BACKENDS, sqlDispatch, type SqlBackend } from '../lib/sql.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '3' }, one: { type: 'string', default: '1000' }, bulk: { type: 'string', default: '20000' } } });
const rounds = Number(values.rounds);
const [one, bulk] = [Number(values.one), Number(values.bulk)];
if (![rounds, one, bulk].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--rounds, --one and --bulk take whole numbers >= 1');
for (const name of positionals) if (!(SQL_BACKENDS as readonly string[]).includes(name)) throw new Error(`${name}: not one of ${SQL_BACKENDS.join(', ')}`);
const backends = (positionals.length > 0 ? positionals : SQL_BACKENDS) as SqlBackend[];
const kinds = ['plain', 'priority', 'unique'] as const;

for (const backend of backends) {
  const rates: Record<string, number[]> = {};
  for (let round = 0; round <= rounds; round++) {
    for (const kind of kinds) {
      JOBS.kind = kind;
      const { oneMs, bulkMs } = await sqlDispatch(backend, one, bulk);
      if (round === 0) continue;
      (rates[`${kind} one`] ??= []).push(one / (oneMs / 1000));
      (rates[`${kind} bulk`] ??= []).push(bulk / (bulkMs / 1000));
    }
  }
  for (const shape of ['one', 'bulk']) {
    const plain = median(rates[`plain ${shape}`]!);
    const each = kinds.map((kind) => {
      const rate = median(rates[`${kind} ${shape}`]!);
      return `${kind} ${Math.round(rate)} jobs/s (${(rate / plain).toFixed(2)})`;
    });
    console.log(`${backend} ${shape}: ${each.join(', ')}; rounds ${rounds}`);
  }
}
