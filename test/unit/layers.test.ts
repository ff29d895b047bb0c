/**
 * The shape of src/: dependencies run one way, from the CLI down to the job model, with no import
 * cycle anywhere (static, type-only and dynamic imports all count), and no source file grows past
 * 400 lines. docs/layout.md lists the same layers.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers/cli.ts';

const src = path.join(repoRoot, 'src');

/** Lowest first: a file may import from its own layer or one below it, never from one above. */
const LAYERS = [
  ['errors.ts', 'env.ts'],
  ['modules'],
  ['jobs'],
  ['config'],
  ['contract'],
  ['drivers'],
  ['running'],
  ['worker'],
  ['queue'],
  ['dashboard'],
  ['cli'],
  ['index.ts'],
];

function layerOf(file: string): number {
  const top = path.relative(src, file).split(path.sep)[0]!;
  const layer = LAYERS.findIndex((names) => names.includes(top));
  assert.ok(layer >= 0, `${path.relative(repoRoot, file)} is in no layer: add its folder to LAYERS (and to docs/layout.md)`);
  return layer;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(m?ts|m?js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every file of src/ and the src/ files it imports: `import ... from`, `export ... from`, `import type`, and `import('literal')`. */
function importGraph(): Map<string, string[]> {
  const files = sourceFiles(src);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const match of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm)) {
      const specifier = match[1] ?? match[2] ?? match[3]!;
      if (!specifier.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), specifier);
      const found = [target, target.replace(/\.js$/, '.ts')].find((candidate) => known.has(candidate));
      assert.ok(found, `${path.relative(repoRoot, file)} imports ${specifier}, which is not a file of src/`);
      targets.add(found);
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** The cycles of the graph (its strongly connected components of more than one file, or a file importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file)!) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || graph.get(file)!.includes(file)) found.push(component);
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

describe('the layers of src/', () => {
  const graph = importGraph();
  const name = (file: string) => path.relative(src, file);

  it('has no import cycle, type-only and dynamic imports included', () => {
    assert.deepEqual(cycles(graph).map((component) => component.map(name).sort()), []);
  });

  it('imports only from its own layer or the ones below: storage never reaches the code that runs jobs', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) if (layerOf(target) > layerOf(file)) upward.push(`${name(file)} -> ${name(target)}`);
    }
    assert.deepEqual(upward, []);
  });

  it('keeps every source file under 400 lines', () => {
    const long = [...graph.keys()].map((file) => [name(file), readFileSync(file, 'utf8').split('\n').length] as const).filter(([, lines]) => lines > 400);
    assert.deepEqual(long, []);
  });
});
