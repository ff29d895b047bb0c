/**
 * The one reader of process.env. `.env` is loaded (dotenv) before anything reads a variable, and
 * every helper validates its value so a bad setting is an error that names the variable.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { config as loadDotenvFile } from 'dotenv';
import { QueueError } from './errors.ts';

let loadedFrom: string | undefined;

/** The application's root: where config/queue.ts, app/jobs and .env live. */
export function projectRoot(): string {
  return path.resolve(process.env.QUEUE_ROOT || process.cwd());
}

/** Loads `<root>/.env` once. Variables already set in the environment win over the file. */
export function loadEnv(root: string = projectRoot()): void {
  if (loadedFrom === root) return;
  loadedFrom = root;
  const file = path.join(root, '.env');
  if (existsSync(file)) loadDotenvFile({ path: file, quiet: true });
}

function raw(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function invalid(name: string, expected: string, value: string): QueueError {
  return new QueueError('CONFIG_INVALID', `${name} must be ${expected} (got '${value}'); fix it in .env or the environment`);
}

export const env = {
  string(name: string, fallback?: string): string {
    const value = raw(name) ?? fallback;
    if (value === undefined) throw new QueueError('CONFIG_INVALID', `${name} is not set; set it in .env (see .env.example)`);
    return value;
  },

  optional(name: string): string | undefined {
    return raw(name);
  },

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const value = raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || parsed < min || parsed > max) {
      throw invalid(name, `a whole number from ${min} to ${max}`, value);
    }
    return parsed;
  },

  bool(name: string, fallback: boolean): boolean {
    const value = raw(name);
    if (value === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(value)) return true;
    if (/^(0|false|no|off)$/i.test(value)) return false;
    throw invalid(name, 'true or false', value);
  },

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = raw(name);
    if (value === undefined) return fallback;
    if (!(choices as readonly string[]).includes(value)) throw invalid(name, `one of ${choices.join(', ')}`, value);
    return value as T;
  },

  url(name: string, protocols: readonly string[]): URL | undefined {
    const value = raw(name);
    if (value === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      // Never echo the value: a URL may carry a password.
      throw new QueueError('CONFIG_INVALID', `${name} is not a valid URL; expected ${protocols.map((p) => `${p}//...`).join(' or ')}`);
    }
    if (!protocols.includes(url.protocol)) {
      throw new QueueError('CONFIG_INVALID', `${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')} (got ${url.protocol}//...)`);
    }
    return url;
  },

  /** Whether we run under CI, where every backend in the test suite is required. */
  isCI(): boolean {
    return /^(1|true)$/i.test(process.env.CI ?? '');
  },

  /** Whether log output should be JSON (not a terminal, or asked for). */
  logFormat(): 'json' | 'pretty' | undefined {
    const value = raw('QUEUE_LOG_FORMAT');
    if (value === undefined) return undefined;
    if (value !== 'json' && value !== 'pretty') throw invalid('QUEUE_LOG_FORMAT', 'json or pretty', value);
    return value;
  },

  /** Colours are off when NO_COLOR is set to anything but the empty string (no-color.org). */
  noColor(): boolean {
    return (process.env.NO_COLOR ?? '') !== '';
  },

  /**
   * The dashboard's access token (`queue dashboard`): required to bind beyond loopback, and then
   * asked of every request. Never printed.
   */
  dashboardToken(): string | undefined {
    return raw('QUEUE_DASHBOARD_TOKEN');
  },

  logLevel(): string {
    return env.oneOf('QUEUE_LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info');
  },
};
