/**
 * The registry of job classes, built by scanning app/jobs once. A job's name is its path under the
 * folder without the extension (`billing/ChargeCard`) unless the class sets its own `static jobName`.
 * Only classes found here can ever be instantiated: a payload names a registry key, never a file.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { QueueError } from '../errors.ts';
import { importProjectModule } from '../modules/import.ts';
import { isValidJobName } from './envelope.ts';
import { isJobClass, type JobClass } from './Job.ts';

export interface RegisteredJob {
  name: string;
  jobClass: JobClass;
  /** The file, relative to the project root. */
  file: string;
}

const CODE = /\.(ts|mts|js|mjs)$/;
const NOT_JOBS = /(\.d\.ts|\.(test|spec)\.(ts|mts|js|mjs))$/;

export class JobRegistry {
  private readonly byName = new Map<string, RegisteredJob>();
  private readonly byClass = new Map<JobClass, RegisteredJob>();

  /**
   * `warnings`: files that look like a mistake (not code, no app/jobs). `helpers`: files and folders
   * skipped by the `_` convention, on purpose: `queue jobs` lists them, a worker only at debug level.
   */
  constructor(jobs: RegisteredJob[] = [], readonly warnings: string[] = [], readonly helpers: string[] = []) {
    for (const job of jobs) this.add(job);
  }

  add(job: RegisteredJob): void {
    const existing = this.byName.get(job.name);
    if (existing) {
      throw new QueueError('JOB_NAME_DUPLICATE', `two jobs are named '${job.name}': ${existing.file} and ${job.file}; give one a different static jobName`);
    }
    const sameClass = this.byClass.get(job.jobClass);
    if (sameClass) {
      throw new QueueError('JOB_NAME_DUPLICATE', `one class is exported as two jobs: ${sameClass.file} and ${job.file}; export each job class from one file`);
    }
    this.byName.set(job.name, job);
    this.byClass.set(job.jobClass, job);
  }

  get(name: string): RegisteredJob | undefined {
    return this.byName.get(name);
  }

  require(name: string): RegisteredJob {
    const job = this.byName.get(name);
    if (!job) {
      const known = [...this.byName.keys()];
      throw new QueueError('JOB_NOT_REGISTERED', `unknown job '${name}'; known jobs: ${known.length ? known.join(', ') : 'none (app/jobs is empty)'}`);
    }
    return job;
  }

  nameOf(jobClass: JobClass): string | undefined {
    return this.byClass.get(jobClass)?.name;
  }

  all(): RegisteredJob[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** Scans `dir` recursively and imports every job file in it. */
export async function discoverJobs(root: string, dir: string): Promise<JobRegistry> {
  const registry = new JobRegistry();
  if (!existsSync(dir)) {
    registry.warnings.push(`${path.relative(root, dir) || dir} does not exist: no jobs are registered`);
    return registry;
  }
  for (const file of await listFiles(dir, registry, root)) {
    const relative = path.relative(root, file);
    const jobClass = await importJobClass(file, relative, root);
    const ownName = Object.hasOwn(jobClass, 'jobName') ? jobClass.jobName : undefined;
    if (ownName !== undefined && (typeof ownName !== 'string' || ownName.trim() === '')) {
      throw new QueueError('JOB_FILE_INVALID', `${relative}: static jobName must be a non-empty string`);
    }
    const name = ownName ?? path.relative(dir, file).replace(CODE, '').split(path.sep).join('/');
    if (!isValidJobName(name)) {
      throw new QueueError('JOB_FILE_INVALID', `${relative}: job name '${name}' is not valid; use letters, digits, '_', '-', '.' and '/' (rename the file or set static jobName)`);
    }
    registry.add({ name, jobClass, file: relative });
  }
  return registry;
}

async function listFiles(dir: string, registry: JobRegistry, root: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    const relative = path.relative(root, full);
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules') registry.warnings.push(`skipped ${relative}/: a node_modules folder holds no jobs`);
      else if (entry.name.startsWith('_')) registry.helpers.push(`skipped ${relative}/: folders starting with '_' hold helpers, not jobs`);
      else files.push(...(await listFiles(full, registry, root)));
    } else if (!CODE.test(entry.name) || NOT_JOBS.test(entry.name)) {
      registry.warnings.push(`skipped ${relative}: not a job file (.ts, .mts, .js or .mjs)`);
    } else if (entry.name.startsWith('_')) {
      registry.helpers.push(`skipped ${relative}: files starting with '_' hold helpers, not jobs`);
    } else {
      files.push(full);
    }
  }
  return files;
}

async function importJobClass(file: string, relative: string, root: string): Promise<JobClass> {
  let module: { default?: unknown };
  try {
    module = await importProjectModule(file, root);
  } catch (error) {
    const reason = (error as Error)?.message?.split('\n', 1)[0] ?? String(error);
    throw new QueueError('JOB_FILE_INVALID', `${relative} could not be loaded: ${reason}`, { cause: error });
  }
  if (!isJobClass(module.default)) {
    if (looksLikeJob(module.default)) {
      throw new QueueError('JOB_FILE_INVALID', `${relative} extends a different copy of Job; import Job from 'queuework' and make sure the project's package.json has "type": "module"`);
    }
    throw new QueueError('JOB_FILE_INVALID', `${relative} does not default-export a class that extends Job; move helpers to a file starting with '_'`);
  }
  return module.default;
}

/** A class with handle() that is not our Job: usually a second copy of the library (CommonJS). */
function looksLikeJob(value: unknown): boolean {
  return typeof value === 'function' && typeof (value.prototype as { handle?: unknown } | undefined)?.handle === 'function';
}
