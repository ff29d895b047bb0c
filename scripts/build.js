#!/usr/bin/env node
/**
 * `npm run build`: compiles src/**\/*.ts to dist/**\/*.js (ESM, one output file per source file) and
 * copies every other file under src (Lua scripts, stubs, the watchdog thread), so that code finding
 * its assets through `import.meta.url` finds them at the same relative place under dist/.
 *
 * esbuild rather than tsc: it is a runtime dependency (it compiles the user's TypeScript jobs), so
 * the build also works in an install without devDependencies (`npm ci --omit=dev` runs `prepare`),
 * and it takes well under a second. Type-checking is `npm run typecheck`'s job, not the build's.
 *
 * With `--types` (npm's `prepare`, which `npm ci` and `npm pack` run) it also writes the .d.ts files
 * that the package's "types" point at, with tsc and tsconfig.build.json: a user's own strict tsc then
 * reads declarations, never this package's sources and their compiler settings. tsc is a
 * devDependency: an install without those gets no declarations, and `npm pack` there fails.
 *
 * The new tree is written beside dist/ and swapped in by rename, so a worker that starts during a
 * build sees the old tree or the new one, never half of one.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = fileURLToPath(new URL('..', import.meta.url));
const src = path.join(repo, 'src');
const dist = path.join(repo, 'dist');
const next = path.join(repo, `.dist-${process.pid}`);
const old = path.join(repo, `.dist-old-${process.pid}`);

/** Every file under `dir`, as absolute paths. */
function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

/**
 * Every import stays an import (nothing is bundled); a relative `.ts` specifier becomes `.js`, the
 * name of the file this build writes for it.
 */
const keepImports = {
  name: 'keep-imports',
  setup(esbuild) {
    esbuild.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const relative = args.path.startsWith('./') || args.path.startsWith('../');
      return { path: relative ? args.path.replace(/\.ts$/, '.js') : args.path, external: true };
    });
  },
};

/**
 * Writes the declarations into `outDir`. tsc keeps the sources' `./x.ts` specifiers in them; they
 * become `./x.js`, the name a user's resolver pairs with the `./x.d.ts` beside it.
 */
function writeDeclarations(outDir) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    const packing = ['pack', 'publish'].includes(process.env.npm_command);
    if (packing) throw new Error('the package needs its .d.ts files and typescript is not installed: run `npm ci` with devDependencies first');
    return;
  }
  execFileSync(process.execPath, [tsc, '-p', path.join(repo, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });
  for (const file of filesUnder(outDir).filter((f) => f.endsWith('.d.ts'))) {
    const text = readFileSync(file, 'utf8');
    const rewritten = text.replace(/((?:from |import\()['"])(\.{1,2}\/[^'"]*)\.ts(['"])/g, '$1$2.js$3');
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
}

const files = filesUnder(src);
const sources = files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
rmSync(next, { recursive: true, force: true });
try {
  await build({
    entryPoints: sources,
    outdir: next,
    outbase: src,
    // Bundling mode only so that every import passes through keepImports; each is kept external.
    bundle: true,
    plugins: [keepImports],
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  for (const file of files.filter((f) => !sources.includes(f))) {
    const target = path.join(next, path.relative(src, file));
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
  if (process.argv.includes('--types')) writeDeclarations(next);
  writeFileSync(path.join(next, '.built'), `${new Date().toISOString()}\n`);
  rmSync(old, { recursive: true, force: true });
  try {
    renameSync(dist, old);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
} catch (error) {
  rmSync(next, { recursive: true, force: true });
  // esbuild has already printed its errors with file and line; tsc too (its exit is `status`).
  if (!error.errors && error.status === undefined) console.error(error);
  process.exitCode = 1;
}
