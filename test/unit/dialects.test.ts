/** Which servers the database driver accepts: the claim needs FOR UPDATE SKIP LOCKED. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mysqlSkipLockedProblem } from '../../src/drivers/database/dialects/mysql.ts';
import { postgresSkipLockedProblem } from '../../src/drivers/database/dialects/postgres.ts';

describe('SKIP LOCKED support', () => {
  it('accepts MySQL 8+, MariaDB 10.6+ and PostgreSQL 9.5+', () => {
    for (const version of ['8.0.36', '8.4.0-log', '9.1.0', '10.6.0-MariaDB', '10.11.19-MariaDB-0+deb12u1', '11.4.2-MariaDB']) {
      assert.equal(mysqlSkipLockedProblem(version), undefined, version);
    }
    for (const version of [90500, 150020, 170000]) assert.equal(postgresSkipLockedProblem(version), undefined);
  });

  it('refuses older servers with a message that says what is needed', () => {
    assert.match(mysqlSkipLockedProblem('5.7.44')!, /^MySQL 5\.7\.44 has no FOR UPDATE SKIP LOCKED; .*MySQL 8 or MariaDB 10\.6/);
    assert.match(mysqlSkipLockedProblem('10.5.23-MariaDB')!, /^MariaDB 10\.5\.23-MariaDB has no FOR UPDATE SKIP LOCKED/);
    assert.match(postgresSkipLockedProblem(90420)!, /^PostgreSQL 9\.4 has no FOR UPDATE SKIP LOCKED; .*9\.5 or newer/);
  });
});
