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
  const file = CANDIDATES.map((candidate) => path.join(root, candidate)).find((candidate) => existsSync(candidate));
  if (!file) return defaultConfig();
  let module: { default?: QueueConfig };
  try {
    module = await importProjectModule(file, root);
  } catch (error) {
    if (error instanceof QueueError) throw error;
    throw new QueueError('CONFIG_INVALID', `${path.relative(root, file)} could not be loaded: ${(error as Error).message}`, { cause: error });
  }
  if (!module.default || typeof module.default !== 'object') {
    throw new QueueError('CONFIG_INVALID', `${path.relative(root, file)} must default-export defineConfig({...})`);
  }
  // defineConfig() already validated it; validating again covers a plain object export.
  return defineConfig(module.default);
}

const SCHEDULE_CANDIDATES = ['config/schedule.ts', 'config/schedule.js', 'config/schedule.mjs'];

/** Loads config/schedule.ts (its job classes are the registry's own: one compiled module per file); none: no schedules. */
export async function loadSchedule(root: string = projectRoot()): Promise<ScheduleEntry[]> {
  const file = SCHEDULE_CANDIDATES.map((candidate) => path.join(root, candidate)).find((candidate) => existsSync(candidate));
  if (!file) return [];
  let module: { default?: unknown };
  try {
    module = await importProjectModule(file, root);
  } catch (error) {
    if (error instanceof QueueError) throw error;
    throw new QueueError('CONFIG_INVALID', `${path.relative(root, file)} could not be loaded: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(module.default)) throw new QueueError('CONFIG_INVALID', `${path.relative(root, file)} must default-export defineSchedule([...])`);
  try {
    return defineSchedule(module.default as ScheduleEntry[]);
  } catch (error) {
    throw new QueueError('CONFIG_INVALID', `${path.relative(root, file)}: ${(error as Error).message}`, { cause: error });
  }
}
