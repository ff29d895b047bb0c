/**
 * What a person sees: `queue work` on a real pseudo-terminal (util-linux `script`) prints one aligned
 * line per job outcome (DONE, RETRY, FAIL, TIMEOUT), start lines and fields only with --verbose, and
 * off a terminal the same events as pino JSON lines.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ensureBuilt } from '../helpers/build.ts';
import { fixtureProject, logLines, repoRoot, runOk, testEnv, type TestEnv } from '../helpers/cli.ts';

const BIN = path.join(repoRoot, 'bin/queue.js');
const COLUMNS = 100;
const JOB_LINE = /^\d\d:\d\d:\d\d {2}(\S+) {2}([0-9a-f]{8}) {2}default {2}(?:(.+?) {2})?·{3,} {2}(\d+ms|\d+\.\d+s) (DONE|RETRY in \d+s|FAIL|TIMEOUT)$/;

/** Three jobs: one that succeeds, one that fails twice (a retry, then for good), one past its timeout. */
async function mixedJobs(t: TestEnv): Promise<void> {
  await runOk(['dispatch', 'Noop'], t);
  await runOk(['dispatch', 'AlwaysFails', '--data', '{"reason": "card declined"}'], t);
  await runOk(['dispatch', 'Sleepy', '--data', '{"ms": 5000}'], t);
}

const WORK = ['work', '--stop-when-empty', '--timeout', '1', '--max-tries', '1', '--sleep', '0.1'];

/** `queue <args>` on a pseudo-terminal COLUMNS wide, typing `input`; its output with colours and carriage returns. */
function onTerminal(t: TestEnv, args: string[], input = '', timeoutSeconds?: number): string {
  ensureBuilt();
  const env: NodeJS.ProcessEnv = { ...process.env, ...t.env };
  delete env.QUEUE_LOG_FORMAT;
  delete env.NO_COLOR;
  const command = `stty cols ${COLUMNS} rows 40; exec ${timeoutSeconds ? `timeout --preserve-status -s INT ${timeoutSeconds} ` : ''}${[process.execPath, BIN, ...args].map((arg) => `'${arg}'`).join(' ')}`;
  const result = spawnSync('script', ['-qefc', command, '/dev/null'], { cwd: fixtureProject, env, input, encoding: 'utf8', timeout: 60_000 });
  // Stopped by `timeout` with SIGINT: the exit code of a command interrupted on purpose.
  assert.equal(result.status, timeoutSeconds ? 130 : 0, `${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/**
 * The lines without colour codes and the terminal's carriage returns, from "worker started" on: the
 * fixture's own start-up warnings come first (the README.md it keeps in app/jobs, its short lease
 * margin), one WARN line each.
 */
function plain(output: string): string[] {
  const lines = output.replace(/\u001b\[\d+m/g, '').replace(/\r/g, '').split('\n').filter((line) => line !== '');
  const start = lines.findIndex((line) => line.includes('worker started'));
  assert.ok(start >= 0, output);
  for (const line of lines.slice(0, start)) assert.match(line, /^\d\d:\d\d:\d\d {2}WARN (skipped app\/jobs\/README\.md|leaseMargin is 1s)/);
  return lines.slice(start);
}

describe('the worker on a terminal', () => {
  it('prints one aligned line per job outcome: DONE, RETRY, FAIL and TIMEOUT, in colour', async () => {
    const t = testEnv({}, 'sqlite');
    await mixedJobs(t);
    const output = onTerminal(t, WORK);
    const lines = plain(output);
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d {2}worker started on database: default$/);
    assert.match(lines.at(-1)!, /^\d\d:\d\d:\d\d {2}worker stopped: the queue is empty \(exit 0\)$/);
    const jobLines = lines.filter((line) => JOB_LINE.test(line));
    const outcomes = jobLines.map((line) => {
      const [, job, , note, , status] = JOB_LINE.exec(line)!;
      return `${job} ${status}${note ? ` ${note}` : ''}`;
    });
    // In the order they ended, which for the retry and Sleepy depends on the backend's clock.
    assert.deepEqual(outcomes.sort(), [
      'AlwaysFails FAIL AlwaysFails: card declined',
      'AlwaysFails RETRY in 0s AlwaysFails: card declined',
      'Noop DONE',
      'Sleepy TIMEOUT job timed out after 1s',
    ]);
    for (const line of jobLines) assert.equal(line.length, COLUMNS, `aligned to the terminal's width: ${line}`);
    // Nothing else: no start lines, no fields, no blocks of pretty-printed JSON.
    assert.equal(lines.length, jobLines.length + 2, lines.join('\n'));
    assert.match(output, /\u001b\[32mDONE\u001b\[0m/);
    assert.match(output, /\u001b\[31mFAIL\u001b\[0m/);
    assert.match(output, /\u001b\[33mRETRY in 0s\u001b\[0m/);
  });

  it('--verbose adds a RUNNING line per attempt and each record\'s fields', async () => {
    const t = testEnv({}, 'sqlite');
    await runOk(['dispatch', 'Noop'], t);
    const lines = plain(onTerminal(t, ['--verbose', ...WORK]));
    assert.match(lines.find((line) => line.includes('RUNNING'))!, /^\d\d:\d\d:\d\d {2}Noop {2}[0-9a-f]{8} {2}default {2}·+ {2}RUNNING {2}id=[0-9a-f-]{36} attempt=1$/);
    assert.match(lines.find((line) => line.includes(' DONE'))!, / DONE {2}id=[0-9a-f-]{36} attempt=1$/);
    assert.match(lines[0]!, /worker started on database: default {2}connection=database queues=\["default"\] concurrency=1$/);
  });

  it('off a terminal, the same run logs pino JSON lines', async () => {
    const t = testEnv({}, 'sqlite');
    await mixedJobs(t);
    const { QUEUE_LOG_FORMAT: _, ...env } = t.env;
    const result = await runOk(WORK, { ...t, env });
    const lines = logLines(result.stdout);
    assert.equal(lines.length, result.stdout.trim().split('\n').length, 'every line is JSON');
    assert.deepEqual(lines.filter((line) => line.outcome !== undefined).map((line) => `${String(line.job)} ${String(line.outcome)}`).sort(), [
      'AlwaysFails failed',
      'AlwaysFails released',
      'Noop done',
      'Sleepy failed',
    ]);
    assert.ok(lines.some((line) => line.msg === 'started'), 'start records are kept in JSON');
  });

  it('queue clear asks on a terminal: no changes nothing, yes deletes', async () => {
    const t = testEnv({}, 'sqlite');
    await runOk(['dispatch', 'Noop'], t);
    const question = "queue clear deletes every job waiting on queue 'default' (connection database). Go ahead? [y/N] ";
    const declined = onTerminal(t, ['clear', 'default'], 'n\n').replace(/\r/g, '');
    assert.ok(declined.includes(question), declined);
    assert.match(declined, /nothing was changed\n$/);
    const sizes = JSON.parse((await runOk(['status', '--json'], t)).stdout) as { queues: { queue: string; ready: number }[] };
    assert.deepEqual(sizes.queues.map((q) => [q.queue, q.ready]), [['default', 1]]);
    const accepted = onTerminal(t, ['clear', 'default'], 'y\n').replace(/\r/g, '');
    assert.match(accepted, /deleted 1 job\(s\) from default\n$/);
  });

  it('tables fit the terminal: a long error is cut with an ellipsis, and --json keeps it whole', async () => {
    const t = testEnv({}, 'sqlite');
    const reason = `card declined by the issuer ${'because of a very long explanation '.repeat(6)}`.trim();
    await runOk(['dispatch', 'AlwaysFails', '--data', JSON.stringify({ reason })], t);
    await runOk(['work', '--stop-when-empty'], t);
    const lines = onTerminal(t, ['failed:list']).replace(/\u001b\[\d+m/g, '').replace(/\r/g, '').split('\n').filter(Boolean);
    assert.ok(lines.length >= 5, lines.join('\n'));
    for (const line of lines) assert.ok(line.length <= COLUMNS, `fits ${COLUMNS} columns: ${line}`);
    assert.ok(lines.some((line) => line.includes('…')), lines.join('\n'));
    const [record] = JSON.parse((await runOk(['failed:list', '--json'], t)).stdout) as { error: string }[];
    assert.ok(record!.error.startsWith(`Error: AlwaysFails: ${reason}\n    at AlwaysFails.handle`), record!.error);
  });

  it('status --watch redraws in place every second, with how fast each queue drains and how many workers are live', async () => {
    const t = testEnv({}, 'sqlite');
    await runOk(['dispatch', 'Noop'], t);
    await runOk(['dispatch', 'Noop'], t);
    const output = onTerminal(t, ['status', '--watch'], '', 2.6);
    const frames = output.split('\u001b[H\u001b[2J').slice(1).map((frame) => frame.replace(/\u001b\[\d+m/g, '').replace(/\r/g, ''));
    assert.ok(frames.length >= 2, output);
    assert.match(frames[0]!, /every 1s, Ctrl-C to stop/);
    // ready, delayed, reserved, failed, completed, cancelled; then the three rates.
    assert.match(frames[0]!, /│ database \(sqlite\) │ default │ 2 +│ 0 +│ 0 +│ 0 +│ 0 +│ 0 +│\n/);
    assert.match(frames[0]!, /\nno live workers/);
    assert.match(frames[1]!, /done\/s │ waiting Δ\/s │ failed Δ\/s/);
    // Eleven columns are wider than this terminal: the table is cut to fit it (here the connection, the same on every row).
    assert.match(frames[1]!, /│ database[^│]* │ default │ 2 +│ 0 +│ 0 +│ 0 +│ 0 +│ 0 +│ 0 +│ 0 +│ 0 +│\n/);
  });
});
