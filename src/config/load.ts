/**
 * Finds and loads config/queue.ts once per process. The file is TypeScript, compiled on the fly
 * (see modules/import.ts); a project without one gets the built-in defaults.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadEnv, projectRoot } from '../env.ts';
import { QueueError } from '../errors.ts';
import { importProjectModule } from '../modules/import.ts';
import { defaultConfig } from './defaults.ts';
import { defineConfig, type QueueConfig, type ResolvedConfig } from './define.ts';
import { defineSchedule, type ScheduleEntry } from './schedule.ts';

const CANDIDATES = ['config/queue.ts', 'config/queue.js', 'config/queue.mjs'];

const cache = new Map<string, Promise<ResolvedConfig>>();

export function loadConfig(root: string = projectRoot()): Promise<ResolvedConfig> {
  let loading = cache.get(root);
  if (!loading) {
    loading = importConfig(root);
    cache.set(root, loading);
    loading.catch(() => cache.delete(root));
  }
  return loading;
}

async function importConfig(root: string): Promise<ResolvedConfig> {
  loadEnv(root);
  const found = await importFirst(root, CANDIDATES);
  if (!found) return defaultConfig();
  const exported = found.module.default as QueueConfig | undefined;
  if (!exported || typeof exported !== 'object') {
    throw new QueueError('CONFIG_INVALID', `${found.name} must default-export defineConfig({...})`);
  }
  // defineConfig() already validated it; validating again covers a plain object export.
  return defineConfig(exported);
}

const SCHEDULE_CANDIDATES = ['config/schedule.ts', 'config/schedule.js', 'config/schedule.mjs'];

/** Loads config/schedule.ts (its job classes are the registry's own: one compiled module per file); none: no schedules. */
export async function loadSchedule(root: string = projectRoot()): Promise<ScheduleEntry[]> {
  const found = await importFirst(root, SCHEDULE_CANDIDATES);
  if (!found) return [];
  if (!Array.isArray(found.module.default)) throw new QueueError('CONFIG_INVALID', `${found.name} must default-export defineSchedule([...])`);
  try {
    return defineSchedule(found.module.default as ScheduleEntry[]);
  } catch (error) {
    throw new QueueError('CONFIG_INVALID', `${found.name}: ${(error as Error).message}`, { cause: error });
  }
}

/** The first of `candidates` under `root` that exists, imported (a file that does not load is CONFIG_INVALID naming it); undefined when none does. */
async function importFirst(root: string, candidates: string[]): Promise<{ name: string; module: Record<string, unknown> } | undefined> {
  const file = candidates.map((candidate) => path.join(root, candidate)).find((candidate) => existsSync(candidate));
  if (!file) return undefined;
  const name = path.relative(root, file);
  try {
    return { name, module: await importProjectModule(file, root) };
  } catch (error) {
    if (error instanceof QueueError) throw error;
    throw new QueueError('CONFIG_INVALID', `${name} could not be loaded: ${(error as Error).message}`, { cause: error });
  }
}
