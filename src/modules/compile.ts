/**
 * Compiles one TypeScript file of the project to an ES module with esbuild, for the cache folder
 * (see import.ts). The output keeps the original file's meaning although it runs from elsewhere:
 * every import is rewritten to the URL it resolves to from the original file (the `link` callback),
 * `import.meta.url`, `.filename` and `.dirname` describe the original file, and the source map
 * points stack traces at the original file and line.
 *
 * esbuild is loaded only when a file has changed: a worker that starts on an up-to-date cache
 * never loads it, nor starts its service process.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Message, Plugin } from 'esbuild';

/** The URL to write for an import; throws when a static import resolves to nothing. */
export type Link = (specifier: string) => string;

export interface CompiledModule {
  code: string;
  /** The source map (version 3), its one source the original file's URL. */
  map: { mappings: string; sources: string[]; [key: string]: unknown };
  /** Each import as written and the URL it was rewritten to (null: a dynamic import left as written). */
  imports: [specifier: string, url: string | null][];
}

export async function compileModule(file: string, outfile: string, root: string, link: Link): Promise<CompiledModule> {
  const { build } = await import('esbuild');
  const imports = new Map<string, string | null>();
  const linker: Plugin = {
    name: 'queue-link',
    setup(esbuild) {
      esbuild.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        let url: string | null;
        try {
          url = link(args.path);
        } catch (error) {
          // A dynamic import may be of something optional, inside a try: it fails when it runs, as it would have.
          if (args.kind !== 'dynamic-import' && args.kind !== 'require-call') return { errors: [{ text: (error as Error).message }] };
          url = null;
        }
        imports.set(args.path, url);
        return { path: url ?? args.path, external: true };
      });
    },
  };
  const url = pathToFileURL(file).href;
  try {
    const result = await build({
      entryPoints: [file],
      outfile,
      absWorkingDir: root,
      write: false,
      // Bundling mode only so that every import passes through the linker; each one stays external.
      bundle: true,
      plugins: [linker],
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // Kept as written: without it esbuild drops `with { type: 'json' }`, which Node requires.
      supported: { 'import-attributes': true },
      keepNames: true,
      charset: 'utf8',
      sourcemap: 'external',
      sourcesContent: false,
      define: {
        'import.meta.url': JSON.stringify(url),
        'import.meta.filename': JSON.stringify(file),
        'import.meta.dirname': JSON.stringify(path.dirname(file)),
      },
      logLevel: 'silent',
    });
    const output = (suffix: string) => result.outputFiles.find((out) => out.path.endsWith(suffix))!.text;
    const map = JSON.parse(output('.map')) as CompiledModule['map'];
    map.sources = [url];
    return { code: output('.mjs'), map, imports: [...imports] };
  } catch (error) {
    const first = (error as { errors?: Message[] }).errors?.[0];
    if (!first) throw error;
    const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: ` : '';
    throw new Error(`${where}${first.text}`, { cause: error });
  }
}

/** Stops esbuild's service process once this process has compiled what it needed. */
export async function stopCompiler(): Promise<void> {
  const { stop } = await import('esbuild');
  await stop();
}
