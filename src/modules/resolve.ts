/**
 * Resolves an import written in a project file (config/queue.ts, app/jobs/**) to a URL, exactly as
 * Node would from that file: its compiled copy runs from the cache folder, so no specifier can be
 * left as written. The resolver is Node's own algorithm (package "exports" and "imports", the
 * `import` conditions, symlinks followed) as ported by import-meta-resolve, since Node 20 cannot
 * resolve from a parent other than the calling module.
 *
 * Two additions, both what tsx accepted: `./helper.js` finds `./helper.ts` (TypeScript's own
 * NodeNext style), and an extensionless `./helper` finds helper.ts, .mts, .js, .mjs or
 * helper/index.* . And this library's own name is the copy that is running (dist/index.js under the
 * binary, src/index.ts in the tests): a second copy would bring a second Job class.
 */
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { moduleResolve } from 'import-meta-resolve';

/** Node 20's conditions for `import` (without --conditions). */
const CONDITIONS = new Set(['node', 'import', 'node-addons']);
const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];
const NOT_FOUND = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT']);

let self: { name: string; version: string; index: string } | undefined;

/** This package's name and version, and the URL of the index module beside the running code. */
export function ownPackage(): { name: string; version: string; index: string } {
  if (!self) {
    // src/modules/ and dist/modules/ are both two levels below the package root.
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    const extension = path.extname(fileURLToPath(import.meta.url));
    self = { name: manifest.name, version: manifest.version, index: new URL(`../index${extension}`, import.meta.url).href };
  }
  return self;
}

/**
 * The URL `specifier` names when imported from `importer` (a file path): `node:` URLs for
 * built-in modules, `file:` URLs otherwise. Throws Node's ERR_MODULE_NOT_FOUND when there is none.
 */
export function resolveImport(specifier: string, importer: string): string {
  if (isBuiltin(specifier)) return specifier.startsWith('node:') ? specifier : `node:${specifier}`;
  if (specifier === ownPackage().name) return ownPackage().index;
  const parent = pathToFileURL(importer);
  try {
    return moduleResolve(specifier, parent, CONDITIONS).href;
  } catch (error) {
    if (!NOT_FOUND.has((error as NodeJS.ErrnoException).code ?? '') || !isPath(specifier)) throw error;
    for (const candidate of typescriptCandidates(specifier)) {
      try {
        return moduleResolve(candidate, parent, CONDITIONS).href;
      } catch {
        // try the next one
      }
    }
    throw error;
  }
}

function isPath(specifier: string): boolean {
  return /^(\.{1,2}\/|\/|file:)/.test(specifier);
}

/** What tsx would also have tried for a relative path that is not there as written. */
function typescriptCandidates(specifier: string): string[] {
  const js = /\.(m?)js$/.exec(specifier);
  if (js) return [`${specifier.slice(0, -js[0].length)}.${js[1]}ts`];
  const bare = specifier.replace(/\/$/, '');
  return [...EXTENSIONS.map((extension) => bare + extension), ...EXTENSIONS.map((extension) => `${bare}/index${extension}`)];
}
