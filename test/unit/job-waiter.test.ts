/**
 * JobWaiter where the database keeps a change marker (SQLite): with a watch that tells of writes it
 * reads the marker on each write and looks only when the marker moved, instead of reading it on a
 * 50 to 150 ms timer; without one, it keeps the timer. Real timers, short waits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobWaiter } from '../../src/drivers/database/JobWaiter.ts';
import type { NextReady } from '../../src/drivers/database/sql/nextReady.ts';

/** A database as the waiter sees it: a marker other connections move, and whether a job is ready. */
function fakeDatabase() {
  const state = { marker: 1, ready: false, looks: 0, markerReads: 0, onWrite: undefined as (() => void) | undefined };
  const look = async (): Promise<NextReady> => {
    state.looks++;
    const now = Date.now();
    return { at: state.ready ? now : null, now };
  };
  const changes = () => {
    state.markerReads++;
    return state.marker;
  };
  const writes = (onWrite: () => void) => {
    state.onWrite = onWrite;
    return () => {
      state.onWrite = undefined;
    };
  };
  return { state, look, changes, writes };
}

describe('JobWaiter on a database with a change marker', () => {
  it('with writes told: idle, it reads the marker about once a second, not on the polling timer', async () => {
    const db = fakeDatabase();
    const waiter = new JobWaiter(db.look, { changes: db.changes, writes: db.writes });
    const started = Date.now();
    await waiter.wait(['default'], 700);
    assert.ok(Date.now() - started >= 650, 'the wait lasted its time');
    assert.equal(db.state.looks, 1, 'one look at the start, none after');
    // One read when the wait starts; the next would be a second later.
    assert.ok(db.state.markerReads <= 2, `${db.state.markerReads} marker reads in 700 ms`);
    assert.equal(db.state.onWrite, undefined, 'the watch ends with the wait');
  });

  it('with writes told: a write that moved the marker makes it look, and a job found ends the wait at once', async () => {
    const db = fakeDatabase();
    const waiter = new JobWaiter(db.look, { changes: db.changes, writes: db.writes });
    const started = Date.now();
    setTimeout(() => {
      db.state.ready = true;
      db.state.marker++;
      db.state.onWrite!();
    }, 100);
    await waiter.wait(['default'], 3_000);
    const took = Date.now() - started;
    assert.ok(took >= 90 && took < 400, `the wait ended ${took} ms in`);
    assert.equal(db.state.looks, 2);
  });

  it("with writes told: a write seen before the marker moved (the writer's last step) is read again shortly after", async () => {
    const db = fakeDatabase();
    const waiter = new JobWaiter(db.look, { changes: db.changes, writes: db.writes });
    const started = Date.now();
    setTimeout(() => {
      db.state.onWrite!();
      setTimeout(() => {
        db.state.ready = true;
        db.state.marker++;
      }, 2);
    }, 100);
    await waiter.wait(['default'], 3_000);
    const took = Date.now() - started;
    assert.ok(took < 500, `the wait ended ${took} ms in, not at the next once-a-second read`);
  });

  it('with writes told: its own writes (the marker does not move) do not make it look', async () => {
    const db = fakeDatabase();
    const waiter = new JobWaiter(db.look, { changes: db.changes, writes: db.writes });
    const timer = setInterval(() => db.state.onWrite?.(), 50);
    try {
      await waiter.wait(['default'], 500);
    } finally {
      clearInterval(timer);
    }
    assert.equal(db.state.looks, 1);
  });

  it('with writes told: others committing all the time (another queue) make it look at most every 25 ms', async () => {
    const db = fakeDatabase();
    const waiter = new JobWaiter(db.look, { changes: db.changes, writes: db.writes });
    const timer = setInterval(() => {
      db.state.marker++;
      db.state.onWrite?.();
    }, 1);
    try {
      await waiter.wait(['default'], 500);
    } finally {
      clearInterval(timer);
    }
    assert.ok(db.state.looks >= 5 && db.state.looks <= 22, `${db.state.looks} looks in 500 ms`);
  });

  it('when nothing can tell of writes: it reads the marker on the polling timer and looks when it moved', async () => {
    const db = fakeDatabase();
    const waiter = new JobWaiter(db.look, { changes: db.changes, writes: () => undefined });
    setTimeout(() => {
      db.state.ready = true;
      db.state.marker++;
    }, 100);
    const started = Date.now();
    await waiter.wait(['default'], 3_000);
    const took = Date.now() - started;
    assert.ok(took < 400, `the wait ended ${took} ms in`);
    assert.ok(db.state.markerReads >= 2, 'the marker was read on the timer');
  });
});
