/**
 * Imports the project's own modules, config/queue.ts and app/jobs/**, which may be TypeScript with
 * no build step. A .js or .mjs file is imported as it is; so is a .ts or .mts file in a process
 * that can import TypeScript itself (tsx registered: the tests, or an application that dispatches
 * under tsx), so that the registry holds the very classes the application imported.
 *
 * The `queue` binary registers no loader hook: Node 20 runs ESM loader hooks on a thread of their
 * own, about 34 MB of every worker. Node 22.18+ strips types itself and has in-thread hooks
 * (module.registerHooks), yet on the fixture project (16 files, Node 22; 24 alike) a warm cache
 * starts in 334 ms at 63 MB, registerHooks with module.stripTypeScriptTypes in 598 ms at 84 MB (its
 * WebAssembly compiler stays in memory), registerHooks with esbuild's transformSync in 799 ms at
 * 82 MB; only the first start, which fills the cache, is slower (1.3 s). And Node's stripping alone
 * takes no enum, no `./helper.js` naming helper.ts and nothing under node_modules. So on every Node
 * a TypeScript file (and every TypeScript file it imports, relative or not) is compiled to an ES
 * module in `node_modules/.cache/queue/` under the project
 * root, and that is imported instead. Each source file has one compiled file, named after its
 * path, so a helper that several jobs import is one module with one state, and import cycles work.
 * A compiled file is reused while its source is unchanged and every import in it still resolves
 * where it did (after an `npm install` a package may live elsewhere); otherwise it is compiled
 * again and replaced atomically (a temp file and a rename), since several workers start at once.
 * A read-only project works when its cache is up to date (warm it with `queue jobs` where the
 * folder is writable); otherwise loading fails with a message that says so.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileModule, stopCompiler, type CompiledModule, type Link } from './compile.ts';
import { ownPackage, resolveImport } from './resolve.ts';

/** Bump when the compiled output changes shape, so old cache files are compiled again. */
const FORMAT = 2;
const HEADER = '// queue-compiled ';
const TYPESCRIPT = /\.m?ts$/;

interface Header {
  format: number;
  /** SHA-256 of the source file. */
  source: string;
  imports: CompiledModule['imports'];
}

/** Compiled files checked (or written) by this process: cache path of the source -> URL. */
const ready = new Map<string, string>();
/** Whether this process imports .ts files itself; unknown until the first one is tried. */
let nativeTypeScript: boolean | undefined;

export function cacheDirectory(root: string): string {
  return path.join(root, 'node_modules', '.cache', 'queue');
}

/** Imports `file` (absolute), compiling it first if it is TypeScript the process cannot import. */
export async function importProjectModule(file: string, root: string): Promise<Record<string, unknown>> {
  if (!isTypeScript(file) || (await importsTypeScript())) return import(pathToFileURL(file).href);
  return importCompiled(file, root);
}

/**
 * Whether project TypeScript may be imported as it is: the process imports .ts files itself, and a
 * job's `import { Job } from 'queuework'` would reach this running copy of the library. A process that
 * runs dist/ with tsx registered (the benchmark) has tsx resolve 'queuework' to src/: there the job
 * would extend another Job class, so it is compiled instead, with 'queuework' pointed here.
 */
async function importsTypeScript(): Promise<boolean> {
  if (nativeTypeScript === undefined) {
    try {
      await import(new URL('./probe.tsx', import.meta.url).href);
      nativeTypeScript = import.meta.resolve(ownPackage().name) === ownPackage().index;
    } catch {
      // ERR_UNKNOWN_FILE_EXTENSION (no loader), ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX or
      // ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING (Node's own stripping): the cache compiles.
      nativeTypeScript = false;
    }
  }
  return nativeTypeScript;
}

/** Compiles `file` (TypeScript) and what it imports into the cache of `root`, and imports that. */
export async function importCompiled(file: string, root: string): Promise<Record<string, unknown>> {
  const url = await prepare(file, root);
  // Stack traces of job code then name the .ts file and line (the compiled files carry source maps).
  process.setSourceMapsEnabled(true);
  return import(url);
}

function isTypeScript(file: string): boolean {
  return TYPESCRIPT.test(file) && !file.endsWith('.d.ts');
}

function compiledPath(file: string, cache: string): string {
  const digest = createHash('sha256').update(file).digest('hex').slice(0, 16);
  return path.join(cache, `${digest}-${path.basename(file).replace(TYPESCRIPT, '')}.mjs`);
}

/** Makes sure `entry` and every TypeScript file it imports have an up-to-date compiled file. */
async function prepare(entry: string, root: string): Promise<string> {
  const cache = cacheDirectory(root);
  const seen = new Set([entry]);
  const pending = [entry];
  const checked: string[] = [];
  let compiled = false;
  try {
    while (pending.length > 0) {
      const file = pending.pop()!;
      const target = compiledPath(file, cache);
      if (ready.has(target)) continue;
      const imported: string[] = [];
      const link: Link = (specifier) => {
        const url = resolveImport(specifier, file);
        if (!url.startsWith('file:') || url === ownPackage().index) return url;
        const dependency = fileURLToPath(url);
        if (!isTypeScript(dependency)) return url;
        imported.push(dependency);
        return pathToFileURL(compiledPath(dependency, cache)).href;
      };
      compiled = (await ensureCompiled(file, target, root, link)) || compiled;
      checked.push(target);
      for (const dependency of imported) {
        if (!seen.has(dependency)) {
          seen.add(dependency);
          pending.push(dependency);
        }
      }
    }
  } finally {
    if (compiled) await stopCompiler();
  }
  // Only now: a file is ready once everything it imports is.
  for (const target of checked) ready.set(target, pathToFileURL(target).href);
  return ready.get(compiledPath(entry, cache))!;
}

/** Compiles `file` to `target` unless that is up to date; true when it compiled. */
async function ensureCompiled(file: string, target: string, root: string, link: Link): Promise<boolean> {
  const source = createHash('sha256').update(readFileSync(file)).digest('hex');
  const header = readHeader(target);
  if (header?.format === FORMAT && header.source === source && header.imports.every(([specifier, url]) => linkOrNull(link, specifier) === url)) {
    return false;
  }
  const { code, map, imports } = await compileModule(file, target, root, link);
  const first: Header = { format: FORMAT, source, imports };
  // The header is one line more above the code: one more (empty) line of mappings.
  const inlineMap = Buffer.from(JSON.stringify({ ...map, mappings: `;${map.mappings}` })).toString('base64');
  writeAtomically(target, `${HEADER}${JSON.stringify(first)}\n${code}//# sourceMappingURL=data:application/json;base64,${inlineMap}\n`, root);
  return true;
}

function linkOrNull(link: Link, specifier: string): string | null {
  try {
    return link(specifier);
  } catch {
    return null;
  }
}

function readHeader(target: string): Header | undefined {
  let text: string;
  try {
    text = readFileSync(target, 'utf8');
  } catch {
    return undefined;
  }
  const line = text.slice(0, text.indexOf('\n'));
  if (!line.startsWith(HEADER)) return undefined;
  try {
    return JSON.parse(line.slice(HEADER.length)) as Header;
  } catch {
    return undefined;
  }
}

function writeAtomically(target: string, text: string, root: string): void {
  const temp = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(temp, text, { flag: 'wx' });
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw error;
    const folder = path.relative(root, path.dirname(target));
    throw new Error(`cannot write the compiled file to ${folder} (${code}); make that folder writable for this user, or run \`queue jobs\` once after each deploy as a user who can write it, so that it is up to date`, { cause: error });
  }
}
