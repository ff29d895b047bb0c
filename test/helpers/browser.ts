/**
 * What the dashboard's end-to-end tests need: a real headless Chromium (Debian's `chromium`,
 * driven by playwright-core) with a fresh profile for each run, the real `queue dashboard` process
 * to point it at, and where screenshots go (test-artifacts/dashboard/, kept by CI, not by git).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { env } from '../../src/env.ts';
import { repoRoot, start, type TestEnv } from './cli.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(repoRoot, 'test-artifacts/dashboard');

/** Why the browser tests cannot run here (undefined: they can); under CI a missing browser fails. */
export function browserUnavailable(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `${CHROMIUM} is not installed (apt-get install chromium)`;
  if (env.isCI()) throw new Error(`the dashboard tests need a browser under CI: ${reason}`);
  console.log(`# skipping the browser cases: ${reason}`);
  return reason;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/**
 * Chromium with a profile of its own in a fresh folder, deleted on close. Playwright refuses
 * `--user-data-dir` among the arguments: a persistent context is how it takes one.
 */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'queue-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (dialog) => void dialog.accept());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface RunningDashboard {
  /** Where to reach it from here: http://127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
}

/** `queue dashboard --port 0 ...flags` in the fixture project; resolves once it listens. */
export async function startDashboard(t: TestEnv, ...flags: string[]): Promise<RunningDashboard> {
  const running = start(['dashboard', '--port', '0', ...flags], t);
  await running.waitFor(/ on http:\/\/\S+?:\d+/, 20_000);
  const port = /on http:\/\/\S+?:(\d+)/.exec(running.output())![1];
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      running.child.kill('SIGTERM');
      const result = await running.done;
      if (result.code !== 0) throw new Error(`queue dashboard exited ${result.code ?? result.signal}: ${result.stderr}`);
    },
  };
}

/** The CSRF token the dashboard's page carries. */
export async function csrfOf(url: string, headers: Record<string, string> = {}): Promise<string> {
  const page = await (await fetch(url, { headers })).text();
  return /<meta name="csrf-token" content="([^"]+)">/.exec(page)![1]!;
}

/** A POST of JSON to the dashboard, with these headers (none: no CSRF token). */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** A GET with a Host header of our choosing (fetch will not send one). */
export function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Host: host } }, (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits until `check` holds, looking every 100 ms; fails with `what` and the last value seen. */
export async function until<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Saves a screenshot of the page as test-artifacts/dashboard/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
