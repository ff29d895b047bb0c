/**
 * Hostile input and secrets through the real worker: thousands of mutated payloads written straight
 * into storage, encrypted jobs across keys, signed-only workers, payload limits, and passwords that
 * must never reach any output. On SQLite and Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { encodeEnvelope, type Envelope } from '../../src/jobs/envelope.ts';
import { generateAppKey } from '../../src/jobs/seal.ts';
import { dispatchMany, e2eBackends, failedList, managerFor, records, run, status, type TestEnv, UNREACHABLE_PORT, UNREACHABLE_ADDRESS } from '../helpers/cli.ts';
import { hostilePayload, random } from '../helpers/hostile.ts';

/** Writes payloads straight into storage, as anyone who can write to Redis or the table could. */
async function storeRaw(t: TestEnv, payloads: string[]): Promise<void> {
  const manager = await managerFor(t);
  await (await manager.driver()).push(payloads.map((payload) => ({ id: randomUUID(), queue: 'default', payload, delayMs: 0, timeoutMs: null })));
  await manager.close();
}

/** The payload as stored for the next job on `default`, read without consuming the job. */
async function storedPayload(t: TestEnv): Promise<string> {
  const manager = await managerFor(t);
  const driver = await manager.driver();
  const [reservation] = await driver.reserve(['default'], { count: 1, defaultTimeoutMs: 60_000, leaseMarginMs: 30_000 });
  assert.ok(reservation);
  await driver.release(reservation, 0, { refundAttempt: true });
  await manager.close();
  return reservation.payload;
}

for (const backend of (await e2eBackends()).filter((b) => b.name === 'sqlite' || b.name === 'redis')) {
  describe(`hostile input and secrets (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('2,000 mutated payloads written into storage: no crash, no hang, each fails with a reason or runs, the queue drains', async () => {
      const t = backend.env();
      const next = random(backend.name === 'sqlite' ? 7 : 11);
      // An empty payload is refused by the driver itself (it is not a job), so the fuzz skips it.
      const hostile = Array.from({ length: 2200 }, () => hostilePayload(next)).filter((payload) => payload !== '').slice(0, 2000);
      const before = await dispatchMany(t, 'Record.ts', 20, { label: 'valid' });
      await storeRaw(t, hostile);
      const afterwards = await dispatchMany(t, 'Record.ts', 20, { label: 'valid' });
      const result = await run(['work', '--stop-when-empty', '--concurrency', '4', '--sleep', '0.2'], t, { timeoutMs: 180_000 });
      assert.equal(result.code, 0, result.stderr.slice(0, 2000));
      const valid = records(t).filter((line) => line.endsWith(' valid')).map((line) => line.split(' ')[0]);
      assert.deepEqual(new Set(valid), new Set([...before, ...afterwards]), 'every valid job ran');
      const fuzzRan = records(t).filter((line) => !line.endsWith(' valid')).length;
      const failed = await failedList(t, '--limit', '5000');
      assert.ok(failed.every((f) => f.error.length > 0), 'each failure has a reason');
      assert.equal(fuzzRan + failed.length, hostile.length, `every hostile payload ran (${fuzzRan}) or failed (${failed.length})`);
      assert.deepEqual((await status(t)).queues.map((q) => [q.ready, q.delayed, q.reserved]), [[0, 0, 0]], 'the queue drained');
      console.log(`# ${backend.name}: of 2,000 hostile payloads ${fuzzRan} were valid jobs and ran, ${failed.length} went to failed storage`);
    });

    it('an encrypted job is unreadable in storage, runs with its key, and fails (never runs) with a wrong or missing key', async () => {
      const key = generateAppKey();
      const t = backend.env({ APP_KEY: key });
      const card = '4111 1111 1111 1111';
      const [id] = await dispatchMany(t, 'Secret.ts', 1, { cardNumber: card });
      assert.ok(!(await storedPayload(t)).includes(card), 'no clear text in storage');
      assert.equal((await run(['work', '--stop-when-empty'], t)).code, 0);
      assert.deepEqual(records(t), [`${id} 1 ${card}`]);

      const [wrong] = await dispatchMany(t, 'Secret.ts', 1, { cardNumber: card });
      const withWrongKey = await run(['work', '--stop-when-empty'], { ...t, env: { ...t.env, APP_KEY: generateAppKey() } });
      assert.equal(withWrongKey.code, 0);
      const [noKey] = await dispatchMany(t, 'Secret.ts', 1, { cardNumber: card });
      const withoutKey = await run(['work', '--stop-when-empty'], { ...t, env: { ...t.env, APP_KEY: '' } });
      assert.equal(withoutKey.code, 0);
      assert.equal(records(t).length, 1, 'neither ran');
      const failed = await failedList(t);
      assert.match(failed.find((f) => f.payload.includes(wrong!))!.error, /failed authentication: it was altered, or encrypted with another APP_KEY/);
      assert.match(failed.find((f) => f.payload.includes(noKey!))!.error, /encrypted and this worker has no APP_KEY/);

      const shown = await run(['failed:show', failed[0]!.id], t);
      assert.equal(shown.code, 0);
      assert.ok(!shown.stdout.includes(card), 'failed:show keeps the fields encrypted');
      const decrypted = await run(['failed:show', failed[0]!.id, '--decrypt'], t);
      assert.ok(decrypted.stdout.includes(card), 'unless asked, with the key');
      for (const output of [shown, decrypted, withWrongKey, withoutKey]) assert.ok(!(output.stdout + output.stderr).includes(key), 'APP_KEY is never printed');
    });

    it('a tampered encrypted payload goes to failed storage and never runs', async () => {
      const t = backend.env({ APP_KEY: generateAppKey() });
      await dispatchMany(t, 'Secret.ts', 1, { cardNumber: '5500 0000 0000 0004' });
      const original = JSON.parse(await storedPayload(t)) as Envelope;
      assert.equal((await run(['clear', 'default', '--force'], t)).code, 0);
      const bytes = Buffer.from(original.data as string, 'base64');
      bytes[30]! ^= 0xff;
      await storeRaw(t, [encodeEnvelope({ ...original, data: bytes.toString('base64') })]);
      assert.equal((await run(['work', '--stop-when-empty'], t)).code, 0);
      assert.deepEqual(records(t), []);
      assert.match((await failedList(t))[0]!.error, /failed authentication/);
    });

    it('a worker that requires signatures runs only the jobs it signed', async () => {
      const key = generateAppKey();
      const t = backend.env({ APP_KEY: key });
      const [unsigned] = await dispatchMany(t, 'Record.ts', 1, { label: 'unsigned' });
      const signedEnv = { ...t, env: { ...t.env, QUEUE_SIGNED: 'true' } };
      const [signed] = await dispatchMany(signedEnv, 'Record.ts', 1, { label: 'signed' });
      const result = await run(['work', '--stop-when-empty'], signedEnv);
      assert.equal(result.code, 0);
      assert.deepEqual(records(t).map((line) => line.split(' ')[0]), [signed]);
      const [failed] = await failedList(t);
      assert.ok(failed!.payload.includes(unsigned!));
      assert.match(failed!.error, /not signed, and this worker only runs signed jobs/);
      assert.equal((await run(['status'], { ...t, env: { ...t.env, QUEUE_SIGNED: 'true', APP_KEY: '' } })).stderr.trim(), 'error: QUEUE_SIGNED=true needs APP_KEY; run `queue key:generate`');
    });

    it('a dispatch over QUEUE_MAX_PAYLOAD_BYTES is refused with one line, nothing stored', async () => {
      const t = backend.env({ QUEUE_MAX_PAYLOAD_BYTES: '2048' });
      const result = await run(['dispatch', 'Record', '--data', JSON.stringify({ label: 'x'.repeat(4000) })], t);
      assert.equal(result.code, 1);
      assert.match(result.stderr.trim(), /^error: Record: the encoded job is \d+ bytes, over the limit of 2048 \(QUEUE_MAX_PAYLOAD_BYTES\)/);
      assert.deepEqual((await status(t)).queues, []);
    });

    it('passwords from REDIS_PASSWORD, DB_PASS and the URLs never reach any output', async () => {
      const secret = `S3cr3t${randomUUID().slice(0, 6)}`;
      const variants: Record<string, string>[] = [
        { REDIS_PASSWORD: secret, REDIS_PORT: String(UNREACHABLE_PORT), REDIS_URL: '' },
        { REDIS_URL: `rediss://user:${secret}@${UNREACHABLE_ADDRESS}/0` },
        { DB_CONNECTION: 'mysql', DB_PASS: secret, DB_PORT: String(UNREACHABLE_PORT), DB_NAME: 'test' },
        { DB_CONNECTION: 'postgres', DATABASE_URL: `postgres://u:${secret}@${UNREACHABLE_ADDRESS}/test` },
        { APP_KEY: `base64:${secret}` },
      ];
      for (const variant of variants) {
        const t = backend.env(variant);
        const outputs = await Promise.all([['--verbose', 'dispatch', 'Record'], ['status', '--json'], ['failed:list'], ['work', '--max-time', '1', '--sleep', '0.2']].map((args) => run(args, t)));
        for (const output of outputs) assert.ok(!(output.stdout + output.stderr).includes(secret), `${JSON.stringify(variant)} leaked into:\n${output.stdout}${output.stderr}`);
      }
    });
  });
}
