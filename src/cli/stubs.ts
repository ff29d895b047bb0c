/** The templates `queue init` and `queue make:job` write from (cli/stubs/*.stub). */
import { readFile } from 'node:fs/promises';
import { ownPackage } from '../modules/resolve.ts';

/** A stub's text, with this package's name where the file imports it. */
export async function stub(name: string): Promise<string> {
  return (await readFile(new URL(`./stubs/${name}`, import.meta.url), 'utf8')).replaceAll('{{package}}', ownPackage().name);
}
