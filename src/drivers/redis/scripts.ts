/**
 * Loads the Lua scripts once per client, through ioredis defineCommand, under versioned names
 * (`queue_v7_turn`): a new version of a script gets a new name and a new SHA, so workers of two
 * releases never run each other's scripts. `-- @include x.lua` lines pull in lua/includes/x.lua
 * (and what it includes).
 * Every script takes its keys first; runScript counts them, so no count is kept anywhere else.
 */
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

const SCRIPT_VERSION = 7;

const SCRIPTS = [
  'push', 'push_placed', 'turn', 'release', 'fail', 'retry', 'clear', 'flush', 'stats', 'find', 'list', 'prune',
  'cancel', 'cancel_running', 'progress', 'clean', 'unsignal', 'expire', 'schedule', 'unschedule',
  'beat', 'leave', 'add_metrics', 'oldest_ready',
] as const;

export type ScriptName = (typeof SCRIPTS)[number];

export type Reply = string | number | null | Reply[];

/** A script's text with its includes in place, theirs too (`-- @include ../push_placed.lua` takes in a whole script). */
function source(name: string): string {
  return expand(readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8'));
}

function expand(text: string): string {
  return text.replace(/^-- @include (\S+)$/gm, (_, include: string) => expand(readFileSync(new URL(`./lua/includes/${include}`, import.meta.url), 'utf8')));
}

const sources = new Map<ScriptName, string>();

/** The name a script is defined under on each client (tests wrap it to simulate a re-sent script). */
export const commandName = (name: ScriptName) => `queue_v${SCRIPT_VERSION}_${name}`;

export function defineScripts(client: Redis | Cluster): void {
  for (const name of SCRIPTS) {
    if (!sources.has(name)) sources.set(name, source(name));
    client.defineCommand(commandName(name), { lua: sources.get(name)! });
  }
}

/** Runs one script with its keys and arguments. */
export function runScript<T = Reply>(client: Redis | Cluster, name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<T> {
  const command = (client as unknown as Record<string, (...values: (string | number)[]) => Promise<T>>)[commandName(name)]!;
  return command.call(client, keys.length, ...keys, ...args);
}
