/**
 * `queue dashboard` in a real headless Chromium (SPEC 15): the real binary on a SQLite project,
 * jobs dispatched and worked by the real CLI beside it. The overview changes on its own as they
 * are; a failed job is retried (and another forgotten) from the page, a waiting one cancelled; an
 * encrypted job's fields never reach the page; a POST without the CSRF token, or to a read-only
 * dashboard, changes nothing; beyond loopback a token is required. And the API answers on Redis
 * and PostgreSQL too.
 * Screenshots go to test-artifacts/dashboard/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { browserUnavailable, csrfOf, getWithHost, launchBrowser, post, screenshot, startDashboard, until, type Browser, type RunningDashboard } from '../helpers/browser.ts';
import { dispatchMany, e2eBackends, run, runOk, testEnv, type TestEnv } from '../helpers/cli.ts';

const APP_KEY = `base64:${randomBytes(32).toString('base64')}`;
const CARD = '4111 1111 1111 1111';

async function dispatch(t: TestEnv, job: string, data: Record<string, unknown> = {}): Promise<string> {
  return (await runOk(['dispatch', job, '--data', JSON.stringify(data)], t)).stdout.trim();
}

async function stateOf(t: TestEnv, id: string): Promise<string> {
  return JSON.parse((await runOk(['show', id, '--json'], t)).stdout).state;
}

/** Failed jobs of the fixture's AlwaysFails, dispatched here and failed by one `queue work`. */
async function failedJobs(t: TestEnv, count: number): Promise<string[]> {
  const ids = await dispatchMany(t, 'AlwaysFails.ts', count);
  await runOk(['work', '--stop-when-empty'], t);
  return ids;
}

/** GET of the dashboard's JSON, which must answer 200. */
async function json(url: string): Promise<any> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `${url}: ${await response.clone().text()}`);
  return response.json();
}

describe('queue dashboard in a browser (sqlite)', { skip: browserUnavailable() }, () => {
  const t = testEnv({ APP_KEY, QUEUE_DASHBOARD_TOKEN: '' }, 'sqlite');
  let browser: Browser;
  let dashboard: RunningDashboard;
  /** Failed jobs the cases after the one that makes them use, one each. */
  let spareFailed: string[] = [];
  const count = (state: string) => browser.page.locator(`[data-queue="default"] [data-count="${state}"] b`).textContent({ timeout: 10_000 });

  before(async () => {
    [browser, dashboard] = await Promise.all([launchBrowser(), startDashboard(t)]);
  });
  after(async () => {
    await browser?.close();
    await dashboard?.stop();
  });

  it('the overview changes on its own as jobs are dispatched and worked', async () => {
    const { page } = browser;
    await page.goto(dashboard.url);
    await page.getByText('No jobs yet').waitFor();
    await page.evaluate(() => ((globalThis as { stayed?: boolean }).stayed = true));
    await Promise.all([1, 2, 3].map((rows) => dispatch(t, 'Report', { rows })));
    await until('3 ready jobs on the overview', () => count('ready'), (n) => n === '3');
    await screenshot(page, 'overview-dispatched');

    await runOk(['work', '--stop-when-empty'], t);
    await until('3 completed jobs on the overview', async () => [await count('ready'), await count('completed')], ([ready, done]) => ready === '0' && done === '3');
    await until('throughput bars', () => page.locator('[data-queue="default"] svg rect.ok').count(), (n) => n > 0);
    assert.ok(await page.evaluate(() => (globalThis as { stayed?: boolean }).stayed), 'the page changed without being loaded again');
    // The day's figures are read every 15 s at most (overview.ts): here only the switch is checked.
    await page.locator('[data-window="day"]').click();
    await page.getByText('a day ago').first().waitFor();
    await page.locator('[data-window="hour"]').click();
    await page.getByText('an hour ago').first().waitFor();
    await screenshot(page, 'overview-worked');
  });

  it('a job\'s page shows its whole record; an encrypted job\'s fields never reach the page; a waiting job is cancelled there', async () => {
    const { page } = browser;
    const [done] = (await json(`${dashboard.url}/api/jobs?state=completed&limit=1`)).jobs;
    const { data } = await json(`${dashboard.url}/api/job/${done.id}`);
    await page.goto(`${dashboard.url}/#/job/${done.id}`);
    await page.getByText('12345678901234567890n').waitFor();
    const record = (await page.locator('#page').textContent())!;
    const { rows } = data;
    for (const text of [done.id, 'Report', 'completed', 'attempts', 'created', 'started', 'finished', `{"done":${rows},"of":${rows}}`, 'Data', `"rows": ${rows}`, 'Result']) {
      assert.ok(record.includes(text), `shows ${text}: ${record}`);
    }
    await screenshot(page, 'job-completed');

    const [secret] = (await dispatchMany(t, 'Secret.ts', 1, { cardNumber: CARD })) as [string];
    await page.goto(`${dashboard.url}/#/jobs?state=ready`);
    await page.locator('input[name="id"]').fill(secret);
    await page.locator('form.search button').click();
    await page.getByText('encrypted or unreadable').waitFor();
    const html = await page.content();
    const api = await (await fetch(`${dashboard.url}/api/job/${secret}`)).text();
    for (const leak of [CARD, APP_KEY, APP_KEY.slice('base64:'.length), 'aes-256-gcm', '"payload"']) {
      assert.ok(!html.includes(leak) && !api.includes(leak), `neither the page nor the API shows ${leak}`);
    }
    await screenshot(page, 'job-encrypted');

    await page.locator('[data-action="cancel"]').click();
    await page.getByText('1 cancelled').waitFor();
    assert.equal((await json(`${dashboard.url}/api/job/${secret}`)).state, 'cancelled', 'a waiting job is cancelled from its page');
  });

  it('failed jobs: one retried from the page is ready again, one selected and forgotten is gone', async () => {
    const { page } = browser;
    const [retried, forgotten, ...spare] = (await failedJobs(t, 4)) as [string, string, string, string];
    spareFailed = spare;
    await page.goto(`${dashboard.url}/#/failed`);
    await page.locator(`[data-job="${retried}"]`).waitFor();
    await screenshot(page, 'failed');

    await page.locator(`[data-job="${retried}"] [data-action="retry"]`).click();
    await page.getByText('1 failed job put back on its queue').waitFor();
    assert.equal(await stateOf(t, retried), 'ready');
    await page.locator(`[data-job="${forgotten}"] input.pick`).check();
    await page.locator('[data-action="forget-selected"]').click();
    await page.getByText('1 failed job record deleted').waitFor();
    assert.equal((await run(['show', forgotten], t)).code, 1, 'its record is gone');
    assert.equal(await page.locator(`[data-job="${forgotten}"]`).count(), 0, 'and so is its row');
  });

  it('a POST without the CSRF token, or from another origin, is refused and changes nothing', async () => {
    const failing = spareFailed.pop()!;
    const csrf = await csrfOf(dashboard.url);
    for (const [headers, why] of [
      [{}, /CSRF token is missing or wrong/],
      [{ 'X-CSRF-Token': 'guessed' }, /CSRF token is missing or wrong/],
      [{ 'X-CSRF-Token': csrf, Origin: 'https://evil.example' }, /a page of https:\/\/evil\.example may not change anything/],
    ] as const) {
      const response = await post(`${dashboard.url}/api/failed/retry`, { ids: [failing] }, headers);
      assert.equal(response.status, 403);
      assert.match(((await response.json()) as { error: string }).error, why);
    }
    assert.equal((await json(`${dashboard.url}/api/job/${failing}`)).state, 'failed', 'the failed job is still failed');
    assert.equal(await getWithHost(`${dashboard.url}/api/meta`, 'rebound.example:80'), 421, 'a Host that is not loopback is refused (DNS rebinding)');
    const allowed = await post(`${dashboard.url}/api/failed/retry`, { ids: [failing] }, { 'X-CSRF-Token': csrf });
    assert.equal(allowed.status, 200, await allowed.clone().text());
    assert.equal((await json(`${dashboard.url}/api/job/${failing}`)).state, 'ready');
  });

  it('/metrics answers Prometheus text', async () => {
    const response = await fetch(`${dashboard.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# TYPE queue_jobs_completed_total counter$/m);
    assert.match(text, /^queue_jobs_completed_total\{connection="database",queue="default"\} [1-9]/m);
    assert.match(text, /^queue_jobs\{connection="database",queue="default",state="ready"\} \d+$/m);
  });

  it('every answer carries its security headers', async () => {
    const response = await fetch(dashboard.url);
    assert.match(response.headers.get('content-security-policy')!, /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
  });

  it('--read-only shows no action and refuses every POST', async () => {
    const readOnly = await startDashboard(t, '--read-only');
    try {
      const { page } = browser;
      const failing = spareFailed.pop()!;
      await page.goto(`${readOnly.url}/#/failed`);
      await page.locator(`[data-job="${failing}"]`).waitFor();
      assert.equal(await page.locator('[data-action], input.pick').count(), 0, 'no button, no checkbox');
      await page.getByText('read-only').first().waitFor();
      await screenshot(page, 'failed-read-only');
      await page.goto(`${readOnly.url}/#/job/${failing}`);
      await page.getByText('AlwaysFails: boom').first().waitFor();
      assert.equal(await page.locator('[data-action]').count(), 0);
      await page.goto(readOnly.url);
      await page.locator('[data-queue="default"]').waitFor();
      assert.equal(await page.locator('[data-action]').count(), 0, 'no pause on the overview');

      const response = await post(`${readOnly.url}/api/failed/retry`, { ids: [failing] }, { 'X-CSRF-Token': await csrfOf(readOnly.url) });
      assert.equal(response.status, 403);
      assert.match(((await response.json()) as { error: string }).error, /read-only/);
      assert.equal((await json(`${readOnly.url}/api/job/${failing}`)).state, 'failed');
    } finally {
      await readOnly.stop();
    }
  });

  it('beyond loopback it needs QUEUE_DASHBOARD_TOKEN: refused to start without it, and every request without it is refused', async () => {
    const refused = await run(['dashboard', '--host', '0.0.0.0', '--port', '0'], t);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: QUEUE_DASHBOARD_TOKEN is not set: .*--host 0\.0\.0\.0.*\n$/);
    assert.equal(refused.stderr.split('\n').length, 2, 'one line');

    const token = randomBytes(24).toString('hex');
    const guarded = await startDashboard({ ...t, env: { ...t.env, QUEUE_DASHBOARD_TOKEN: token } }, '--host', '0.0.0.0');
    try {
      for (const path of ['/', '/api/meta', '/api/failed', '/metrics', '/assets/app.js', `/?token=${'x'.repeat(token.length)}`]) {
        assert.equal((await fetch(`${guarded.url}${path}`, { redirect: 'manual' })).status, 401, `${path} without the token`);
      }
      assert.equal((await fetch(`${guarded.url}/api/meta`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
      const posted = await post(`${guarded.url}/api/queues/pause`, { queue: 'default' }, { 'X-CSRF-Token': await csrfOf(guarded.url, { Authorization: `Bearer ${token}` }) });
      assert.equal(posted.status, 401, 'the CSRF token alone does not let a POST in');

      const { page, context } = browser;
      await page.goto(`${guarded.url}/?token=${token}#/workers`);
      assert.equal(new URL(page.url()).search, '', 'the token is dropped from the address');
      await page.getByRole('heading', { name: 'Workers' }).waitFor();
      const [cookie] = (await context.cookies(guarded.url)).filter((c) => c.name === 'queue_dashboard');
      assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', 'an HttpOnly, SameSite=Strict cookie');
      assert.ok(!cookie.value.includes(token), 'holding no token');
      await screenshot(page, 'workers-with-token');
    } finally {
      await guarded.stop();
    }
  });
});

for (const backend of (await e2eBackends()).filter((b) => b.name === 'redis' || b.name === 'postgres')) {
  describe(`the dashboard's API (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('answers the overview, jobs, one job, workers, schedules and /metrics', async () => {
      const t = backend.env({ QUEUE_DASHBOARD_TOKEN: '' });
      const dashboard = await startDashboard(t);
      try {
        const [done] = await dispatchMany(t, 'Report.ts', 1);
        const [failing] = await failedJobs(t, 1);
        const overview = await until('the worker\'s counts in the overview', () => json(`${dashboard.url}/api/overview`), (o) => o.hour[0]?.completed === 1);
        assert.equal(overview.backend, backend.name);
        assert.deepEqual(overview.hour.map((q: { queue: string; counts: object }) => [q.queue, q.counts]), [['default', { ready: 0, delayed: 0, reserved: 0, failed: 1, completed: 1, cancelled: 0 }]]);
        assert.equal(overview.day[0].completed, 1);
        assert.deepEqual((await json(`${dashboard.url}/api/jobs?state=completed`)).jobs.map((j: { id: string }) => j.id), [done]);
        assert.equal((await json(`${dashboard.url}/api/job/${done}`)).result.total, '12345678901234567890n');
        assert.deepEqual((await json(`${dashboard.url}/api/failed`)).jobs.map((j: { id: string }) => j.id), [failing]);
        assert.ok(Array.isArray((await json(`${dashboard.url}/api/workers`)).workers));
        assert.deepEqual((await json(`${dashboard.url}/api/schedules`)).schedules, []);
        const retried = await post(`${dashboard.url}/api/failed/retry`, { all: true }, { 'X-CSRF-Token': await csrfOf(dashboard.url) });
        assert.deepEqual(((await retried.json()) as { ids: string[] }).ids, [failing]);
        assert.match(await (await fetch(`${dashboard.url}/metrics`)).text(), /^queue_jobs_failed_total\{connection="[a-z]+",queue="default"\} 1$/m);
      } finally {
        await dashboard.stop();
      }
    });
  });
}
