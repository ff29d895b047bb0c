/** The README's quick start, run as written, in the repository itself (on a throwaway database). */
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot, testEnv } from '../helpers/cli.ts';

describe('quick start', () => {
  it('the README command dispatches and works a job on SQLite with no server', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const block = /## Quick start[^\n]*\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'the README has a quick start block');
    const [install, runJob] = block.trim().split('\n');
    assert.equal(install, 'npm ci');
    const t = testEnv();
    const output = execSync(runJob!, { cwd: repoRoot, env: { ...process.env, ...t.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    assert.ok(lines.some((line) => line.msg === 'welcome email sent' && line.to === 'ada@example.com'), output);
    assert.ok(lines.some((line) => line.outcome === 'done' && line.job === 'SendWelcomeEmail'));
    assert.equal(lines.at(-1)?.reason, 'empty');
  });

  it('dispatch from the shell turns strings into Date and BigInt fields', () => {
    const t = testEnv();
    const env = { ...process.env, ...t.env };
    execSync(`node bin/queue.js dispatch ChargeCard --data '{"orderId":"A1","amountCents":"500","succeedOnAttempt":1}'`, { cwd: repoRoot, env, stdio: 'pipe' });
    const output = execSync('node bin/queue.js work --stop-when-empty', { cwd: repoRoot, env, encoding: 'utf8' });
    assert.match(output, /"amountCents":"500".*"msg":"card charged"/);
    assert.throws(
      () => execSync(`node bin/queue.js dispatch ChargeCard --data '{"amountCents":"5.5"}'`, { cwd: repoRoot, env, stdio: 'pipe' }),
      (error: { stderr: Buffer }) => /ChargeCard.amountCents is a BigInt; '5.5' is not a whole number/.test(error.stderr.toString()),
    );
  });
});
