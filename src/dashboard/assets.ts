/**
 * The page and its two files, hand-written and served from memory: index.html, app.js (vanilla
 * JavaScript; charts are SVG it draws) and style.css. Nothing is loaded from anywhere else, so the
 * dashboard works on a network with no way out. The build copies assets/ beside the compiled
 * module (scripts/build.js), so they are found next to it in src/ and in dist/ alike.
 */
import { readFile } from 'node:fs/promises';

export interface Asset {
  type: string;
  body: Buffer;
}

export interface Assets {
  /** index.html with the server's CSRF token in its <meta name="csrf-token">. */
  page(csrf: string): string;
  /** A file the page loads (/assets/<name>), or undefined. */
  file(name: string): Asset | undefined;
}

const FOLDER = new URL('./assets/', import.meta.url);
const FILES: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8' };

export async function loadAssets(): Promise<Assets> {
  const template = await readFile(new URL('index.html', FOLDER), 'utf8');
  const files = new Map<string, Asset>();
  for (const [name, type] of Object.entries(FILES)) files.set(name, { type, body: await readFile(new URL(name, FOLDER)) });
  return {
    // The token is base64url: nothing in it needs escaping in an attribute.
    page: (csrf) => template.replace('{{csrf}}', csrf),
    file: (name) => files.get(name),
  };
}
