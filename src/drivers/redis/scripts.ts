/**
 * Loads the Lua scripts once per client, through ioredis defineCommand, under versioned names
 * (`queue_v2_reserve`): a new version of a script gets a new name and a new SHA, so workers of two
 * releases never run each other's scripts. `-- @include x.lua` lines pull in lua/includes/x.lua.
 */
import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';

export const SCRIPT_VERSION = 2;

const SCRIPTS = {
  push: -1,
  turn: -1,
  release: 7,
  fail: 7,
  retry: 8,
  clear: 8,
  flush: 3,
  stats: 4,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

export type Reply = string | number | null | Reply[];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    queue_v2_push(numberOfKeys: number, ...args: (string | number)[]): Result<number, Context>;
    queue_v2_turn(numberOfKeys: number, ...args: (string | number)[]): Result<Reply[], Context>;
    queue_v2_release(...args: (string | number)[]): Result<number, Context>;
    queue_v2_fail(...args: (string | number)[]): Result<string | number, Context>;
    queue_v2_retry(...args: (string | number)[]): Result<number, Context>;
    queue_v2_clear(...args: (string | number)[]): Result<number, Context>;
    queue_v2_flush(...args: (string | number)[]): Result<number, Context>;
    queue_v2_stats(...args: (string | number)[]): Result<number[], Context>;
  }
}

function source(name: string): string {
  const text = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
  return text.replace(/^-- @include (\S+)$/gm, (_, include: string) => readFileSync(new URL(`./lua/includes/${include}`, import.meta.url), 'utf8'));
}

const sources = new Map<ScriptName, string>();

export function defineScripts(client: Redis | Cluster): void {
  for (const [name, numberOfKeys] of Object.entries(SCRIPTS) as [ScriptName, number][]) {
    if (!sources.has(name)) sources.set(name, source(name));
    const options = numberOfKeys >= 0 ? { numberOfKeys, lua: sources.get(name)! } : { lua: sources.get(name)! };
    client.defineCommand(`queue_v${SCRIPT_VERSION}_${name}`, options);
  }
}
