/**
 * The Holding ability (drivers that let a worker hold jobs ahead: every backend). What a worker
 * relies on: a held job is leased but its try is not counted until it starts; a start counts it
 * and gives the lease its full length; a give-back returns the job untouched to the front of its
 * queue; a holder killed mid-hold costs the job nothing; acks and starts with a stale token change
 * nothing; a turn applied twice takes effect once. And, Redis's own: a running job's cancel request
 * is kept in its queue's keys, so a job that comes back from its worker is never handed out again
 * even when the `cancel:<id>` signal was lost (on SQL the request and its signal are one write).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { canHold, type Driver, type Holding, type Reservation, type Turn } from '../../src/contract/driver.ts';
import { cancelSignal } from '../../src/contract/signals.ts';
import type { RedisDriver } from '../../src/drivers/redis/RedisDriver.ts';
import { commandName } from '../../src/drivers/redis/scripts.ts';
import { backends, skipReason, type Backend } from '../helpers/backends.ts';
import { idOf, storedJob } from '../helpers/stored.ts';

const SETTINGS = { defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 };

type HoldingDriver = Driver & Holding;

async function turn(driver: HoldingDriver, parts: Partial<Turn> & { count?: number; holdMs?: number }) {
  const { written, result } = driver.turn({
    acks: parts.acks ?? [],
    starts: parts.starts ?? [],
    giveBacks: parts.giveBacks ?? [],
    queues: parts.queues ?? ['default'],
    options: { count: parts.count ?? 0, holdMs: parts.holdMs ?? 30_000, ...SETTINGS },
  });
  return { written, ...(await result) };
}

const hold = (driver: HoldingDriver, count: number, holdMs?: number, queues?: string[]) => turn(driver, { count, holdMs, queues });

/**
 * Makes `driver` apply every turn twice until the returned undo, as a turn sent again does: ioredis
 * sends a script again when its connection drops before the answer, and DatabaseDriver.call runs a
 * transaction again when its connection was lost, maybe after the COMMIT. Only the second answer
 * arrives.
 */
function everyTurnTwice(backend: Backend, driver: HoldingDriver): () => void {
  if (backend.name === 'redis') {
    const client = (driver as unknown as { client: Record<string, (...args: unknown[]) => Promise<unknown>> }).client;
    const name = commandName('turn');
    const once = client[name]!.bind(client);
    client[name] = async (...args: unknown[]) => {
      await once(...args);
      return once(...args);
    };
    return () => void (client[name] = once);
  }
  type Call = <T>(what: string, work: (db: unknown) => Promise<T>) => Promise<T>;
  const sql = driver as unknown as { call: Call };
  const once = sql.call.bind(sql) as Call;
  sql.call = (what, work) => once(what, async (db) => {
    await work(db);
    return work(db);
  });
  return () => void delete (sql as Partial<typeof sql>).call;
}

for (const makeBackend of backends) {
  const backend = makeBackend();
  describe(`holding jobs ahead: ${backend.name}`, async () => {
    const skip = await skipReason(backend);
    const open: Driver[] = [];
    const fresh = async (): Promise<HoldingDriver> => {
      const driver = await backend.create();
      open.push(driver);
      assert.ok(canHold(driver), `the ${backend.name} driver can hold jobs`);
      return driver;
    };
    const sibling = async (): Promise<HoldingDriver> => {
      const driver = await backend.sibling();
      open.push(driver);
      return driver as HoldingDriver;
    };
    before(async () => {
      if (!skip) await fresh();
    });
    after(async () => {
      await Promise.all(open.map((d) => d.close()));
      await backend.cleanup();
    });

    it('a held job is leased to its holder, and its try counts only when it starts', { skip }, async () => {
      const d = await fresh();
      const [a, b] = [storedJob(), storedJob()];
      await d.push([a, b]);
      const { held, written } = await hold(d, 2);
      assert.equal(written, backend.name === 'redis', 'on a single Redis the bytes leave with the call; on SQL nothing is on record before the commit is answered');
      assert.deepEqual(held.map(idOf), [a.id, b.id]);
      assert.deepEqual(held.map((r) => r.attempts), [1, 1], 'each will be its first try');
      assert.deepEqual(await (await sibling()).reserve(['default'], { count: 5, ...SETTINGS }), [], 'no other worker gets a held job');
      assert.equal((await d.stats())[0]?.reserved, 2);

      const { started } = await turn(d, { starts: [held[0]!] });
      assert.deepEqual(started, [true]);
      const { acked } = await turn(d, { acks: [{ reservation: held[0]! }], giveBacks: [held[1]!] });
      assert.deepEqual(acked, [true]);
      const [again] = await d.reserve(['default'], { count: 1, ...SETTINGS });
      assert.equal(idOf(again!), b.id, 'the job given back is ready again');
      assert.equal(again!.attempts, 1, 'holding it used no try');
    });

    it('a take with holdMs 0 starts its jobs in the same turn: the try counted, leased for the whole try, acked by the next turn', { skip }, async () => {
      const d = await fresh();
      const [a, b] = [storedJob(), storedJob()];
      await d.push([a, b]);
      const { held } = await turn(d, { count: 1, holdMs: 0, queues: ['default'] });
      assert.deepEqual(held.map(idOf), [a.id]);
      assert.equal(held[0]!.attempts, 1, 'its first try, already counted');
      assert.ok(held[0]!.leaseExpiresAt - Date.now() > SETTINGS.defaultTimeoutMs, 'leased for its timeout and the margin, not a hold');
      assert.equal((await d.records.find(a.id))?.attempts, 1, 'the record shows the try');
      assert.ok((await d.records.find(a.id))?.startedAt, 'and its start');
      const { acked, held: next } = await turn(d, { acks: [{ reservation: held[0]! }], count: 1, holdMs: 0 });
      assert.deepEqual(acked, [true]);
      assert.deepEqual(next.map(idOf), [b.id], 'the ack and the next take in one turn');
      assert.deepEqual(await (await sibling()).reserve(['default'], { count: 5, ...SETTINGS }), [], 'no other worker gets the started job');
      assert.deepEqual((await d.stats())[0], { queue: 'default', ready: 0, delayed: 0, reserved: 1, failed: 0, completed: 0, cancelled: 0 });
    });

    it('a holder that dies costs its held jobs nothing: they come back after the hold lease, tries unchanged', { skip }, async () => {
      const d = await fresh();
      const a = storedJob();
      await d.push([a]);
      const [first] = await d.reserve(['default'], { count: 1, ...SETTINGS, leaseMarginMs: 200, defaultTimeoutMs: 100 });
      assert.equal(first!.attempts, 1);
      await sleep(400); // that worker died: its lease runs out
      const { held } = await hold(await sibling(), 1, 300);
      assert.equal(held[0]!.attempts, 2, 'the one real try is counted');
      await sleep(450); // the holder died too, before starting it
      const [back] = await (await sibling()).reserve(['default'], { count: 1, ...SETTINGS });
      assert.equal(idOf(back!), a.id);
      assert.equal(back!.attempts, 2, 'the hold cost nothing');
    });

    it('a start gives the lease its full length: the job is not handed out when the hold lease would have ended', { skip }, async () => {
      const d = await fresh();
      await d.push([storedJob()]);
      const { held } = await hold(d, 1, 300);
      assert.deepEqual((await turn(d, { starts: held })).started, [true]);
      await sleep(450);
      assert.deepEqual(await (await sibling()).reserve(['default'], { count: 1, ...SETTINGS }), [], 'the started job is still ours');
      assert.deepEqual((await turn(d, { acks: held.map((reservation) => ({ reservation })) })).acked, [true]);
    });

    it('a start, ack or give-back with a lost hold changes nothing', { skip }, async () => {
      const d = await fresh();
      const a = storedJob();
      await d.push([a]);
      const { held } = await hold(d, 1, 200);
      await sleep(350);
      const [taken] = await (await sibling()).reserve(['default'], { count: 1, ...SETTINGS });
      assert.equal(idOf(taken!), a.id, 'another worker took the job once the hold lease ran out');
      const stale: Reservation = held[0]!;
      const result = await turn(d, { starts: [stale], acks: [{ reservation: stale }], giveBacks: [stale] });
      assert.deepEqual(result.started, [false]);
      assert.deepEqual(result.acked, [false]);
      assert.equal(await d.size('default'), 1, 'the job is still there, leased to the other worker');
      assert.equal((await d.stats())[0]?.reserved, 1);
    });

    it('one turn carries acks, starts and a take, across queues, and takes from the first queue that has jobs', { skip }, async () => {
      const d = await fresh();
      const [low1, low2, high] = [storedJob('low'), storedJob('low'), storedJob('high')];
      await d.push([low1, low2]);
      const first = await hold(d, 2, undefined, ['high', 'low']);
      assert.deepEqual(first.held.map(idOf), [low1.id, low2.id]);
      await d.push([high]);
      const second = await turn(d, { starts: first.held, count: 5, queues: ['high', 'low'] });
      assert.deepEqual(second.started, [true, true]);
      assert.deepEqual(second.held.map(idOf), [high.id], 'the higher queue first');
      const third = await turn(d, { acks: [...first.held, ...second.held].map((reservation) => ({ reservation })), queues: [] });
      assert.deepEqual(third.acked, [true, true, true], 'a held job given up unstarted can still be acked by its holder');
      assert.deepEqual(await d.stats(), []);
    });

    it('a turn sent twice (a re-send after a dropped connection lost its answer) holds the same jobs and counts each start once', { skip }, async () => {
      const d = await fresh();
      const [a, b, c] = [storedJob(), storedJob(), storedJob()];
      await d.push([a, b, c]);
      const undo = everyTurnTwice(backend, d);
      const { held } = await hold(d, 2);
      assert.deepEqual(held.map(idOf), [a.id, b.id], 'the same two jobs, not two more');
      assert.deepEqual(held.map((r) => r.attempts), [1, 1]);
      assert.deepEqual((await turn(d, { starts: held })).started, [true, true]);
      assert.deepEqual((await turn(d, { acks: [{ reservation: held[0]! }] })).acked, [true], 'an ack sent twice is done');
      assert.deepEqual((await turn(d, { giveBacks: [], acks: [] })).acked, []);
      undo();
      const [rest] = await (await sibling()).reserve(['default'], { count: 5, ...SETTINGS });
      assert.equal(idOf(rest!), c.id, 'the third job was never taken');
      const released = held[1]!;
      assert.equal(await d.release(released, 0), true);
      const [back] = await (await sibling()).reserve(['default'], { count: 1, ...SETTINGS });
      assert.equal(back!.attempts, 2, 'its start counted one try, not two');
    });

    it('one turn keeps the records of its acks, starts held jobs and holds more, and tells each apart', { skip }, async () => {
      const d = await fresh();
      const [a, b, c] = [storedJob(), storedJob(), storedJob()];
      await d.push([a, b, c]);
      const { held } = await hold(d, 2);
      assert.deepEqual((await turn(d, { starts: [held[0]!] })).started, [true]);
      const completion = { result: '1', keepMs: 3_600_000, maxPerQueue: 1_000 };
      const both = await turn(d, { acks: [{ reservation: held[0]!, completion }], starts: [held[1]!], count: 5 });
      assert.deepEqual([both.acked, both.started, both.held.map(idOf)], [[true], [true], [c.id]]);
      assert.equal((await d.records.find(a.id))?.state, 'completed');
      assert.equal((await d.records.find(b.id))?.attempts, 1, 'started: its try counted');
    });

    it('an ack in a turn with a completion keeps a completed record with its result; one without keeps none', { skip }, async () => {
      const d = await fresh();
      const [kept, dropped] = [storedJob(), storedJob()];
      await d.push([kept, dropped]);
      const { held } = await hold(d, 2);
      assert.deepEqual((await turn(d, { starts: held })).started, [true, true]);
      const completion = { result: '{"sent":true}', keepMs: 3_600_000, maxPerQueue: 1_000 };
      const { acked } = await turn(d, { acks: [{ reservation: held[0]!, completion }, { reservation: held[1]! }], queues: [] });
      assert.deepEqual(acked, [true, true]);
      const record = await d.records.find(kept.id);
      assert.equal(record?.state, 'completed');
      assert.equal(record.result, '{"sent":true}');
      assert.equal(record.attempts, 1);
      assert.ok(record.startedAt !== null && record.finishedAt! >= record.startedAt, 'its start, from the turn that started it');
      assert.equal(await d.records.find(dropped.id), undefined, 'an ack without a completion keeps no record');
      assert.deepEqual(await d.stats(), [{ queue: 'default', ready: 0, delayed: 0, reserved: 0, failed: 0, completed: 1, cancelled: 0 }], 'only the record is left');
    });

    it('batches in one turn (a worker starting jobs ahead): each ack, start and give-back told apart by id and token, a stale one among them', { skip }, async () => {
      const d = await fresh();
      // One job's hold runs out and another worker takes it: this worker's reservation of it is stale.
      await d.push([storedJob()]);
      const { held: [lost] } = await hold(d, 1, 200);
      await sleep(350);
      const other = await sibling();
      const [theirs] = await other.reserve(['default'], { count: 1, ...SETTINGS });
      assert.equal(idOf(theirs!), idOf(lost!));
      await d.push(Array.from({ length: 79 }, () => storedJob()));
      const started = await turn(d, { count: 40, holdMs: 0 });
      assert.equal(started.held.length, 40, 'one take starts 40');
      assert.ok(started.held.every((r) => r.attempts === 1), 'each on its first try, counted');
      const { held } = await hold(d, 19);
      const completion = { result: '"r"', keepMs: 3_600_000, maxPerQueue: 1_000 };
      const acks = started.held.map((reservation, i) => ({ reservation, completion: i % 2 === 0 ? completion : undefined }));
      const both = await turn(d, { acks: [...acks, { reservation: lost! }, { reservation: lost!, completion }], starts: [...held, lost!], queues: [] });
      assert.deepEqual(both.acked, [...acks.map(() => true), false, false], 'every ack done but the stale ones');
      assert.deepEqual(both.started, [...held.map(() => true), false], 'every start done but the stale one');
      const kept = await Promise.all(started.held.map((r) => d.records.find(idOf(r))));
      assert.deepEqual(kept.map((record) => record?.state ?? 'none'), started.held.map((_, i) => (i % 2 === 0 ? 'completed' : 'none')));
      assert.ok(kept.every((record, i) => i % 2 === 1 || record?.result === '"r"'), 'each kept record has its result');
      const more = await hold(d, 20);
      assert.equal(more.held.length, 20, 'the last 20');
      await turn(d, { giveBacks: [...more.held, lost!], queues: [] });
      const again = await (await sibling()).reserve(['default'], { count: 30, ...SETTINGS });
      assert.deepEqual(again.map(idOf), more.held.map(idOf), 'the 20 given back are ready again, in order; the stale one stays the other worker\'s');
      assert.ok(again.every((r) => r.attempts === 1), 'holding them used no try');
      assert.equal(await other.ack(theirs!), true, 'the other worker still holds its job');
    });

    it('a give-back puts the job back at the front of its queue', { skip }, async () => {
      const d = await fresh();
      const [a, b] = [storedJob(), storedJob()];
      await d.push([a, b]);
      const { held } = await hold(d, 1);
      assert.equal(idOf(held[0]!), a.id);
      await turn(d, { giveBacks: held });
      const [next] = await d.reserve(['default'], { count: 1, ...SETTINGS });
      assert.equal(idOf(next!), a.id, 'it keeps its place');
    });

    /** The signals hash, read and written apart from the driver (the process that cancels may die between its two writes). */
    const signalsOf = (d: HoldingDriver) => {
      const { keys, client } = d as unknown as { keys: RedisDriver['keys']; client: import('ioredis').Redis };
      return { key: keys.signals, client };
    };

    // Redis's own: it keeps cancel requests in its queue keys (on SQL the request and its signal are one write).
    if (backend.name === 'redis') it('a cancel asked while a job runs holds even without its signal: the job is cancelled when it comes back, never handed out', { skip }, async () => {
      const d = await fresh();
      const keeping = { keepMs: 3_600_000, maxPerQueue: 1_000 };
      const [released, given, other] = [storedJob(), storedJob(), storedJob()];
      await d.push([released, given, other]);
      const [running] = await d.reserve(['default'], { count: 1, ...SETTINGS });
      const { held } = await hold(d, 1);
      assert.deepEqual([idOf(running!), idOf(held[0]!)], [released.id, given.id]);
      assert.equal(await d.records.cancel(released.id, keeping), 'requested');
      assert.equal(await d.records.cancel(given.id, keeping), 'requested');
      // The process that cancelled died before it told the workers.
      const { key, client } = signalsOf(d);
      await client.hdel(key, cancelSignal(released.id), cancelSignal(given.id));
      assert.deepEqual((await d.signals()).cancelRequested, []);

      assert.equal(await d.release(running!, 0), true, 'its worker gives it back (a failure with tries left, or a stop)');
      await turn(d, { giveBacks: held });
      const heard: string[] = [];
      const unsubscribe = await (d as unknown as RedisDriver).onFinished((ids) => heard.push(...ids));
      const taken = await (await sibling()).reserve(['default'], { count: 5, ...SETTINGS });
      assert.deepEqual(taken.map(idOf), [other.id], 'only the job nobody cancelled');
      for (const id of [released.id, given.id]) {
        const record = await d.records.find(id);
        assert.equal(record?.state, 'cancelled', id);
      }
      assert.equal((await d.records.find(released.id))!.attempts, 1);
      for (let i = 0; i < 50 && heard.length < 2; i++) await sleep(20);
      assert.deepEqual(heard.sort(), [released.id, given.id].sort(), 'the take tells waiters');
      unsubscribe();
      assert.equal((await d.stats())[0]?.cancelled, 2);
    });

    it('prune drops a cancel signal whose job has no request left, and keeps those that do', { skip }, async () => {
      const d = await fresh();
      const keeping = { keepMs: 3_600_000, maxPerQueue: 1_000 };
      const [done, running] = [storedJob(), storedJob()];
      await d.push([done, running]);
      const [a, b] = await d.reserve(['default'], { count: 2, ...SETTINGS });
      assert.equal(await d.records.cancel(done.id, keeping), 'requested');
      assert.equal(await d.records.cancel(running.id, keeping), 'requested');
      assert.equal(await d.ack(a!), true, 'it finished before its worker saw the request');
      assert.deepEqual((await d.signals()).cancelRequested.sort(), [done.id, running.id].sort());
      await d.records.prune({ maxPerQueue: 1_000 });
      assert.deepEqual((await d.signals()).cancelRequested, [running.id]);
      assert.equal(await d.cancelRunning(b!, keeping), true);
      assert.deepEqual((await d.signals()).cancelRequested, []);
    });
  });
}
