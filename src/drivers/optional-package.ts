/**
 * The server clients (ioredis, mysql2, pg) are optional peer dependencies: an application installs
 * the one its connections use. A driver module that needs one is imported through here, so a
 * missing client is one line that names the package to install, not Node's module-not-found trace.
 */
import { QueueError } from '../errors.ts';

export async function withPackage<T>(pkg: string, connection: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ERR_MODULE_NOT_FOUND' && new RegExp(`['"]${pkg}['"]`).test(message ?? '')) {
      throw new QueueError('PACKAGE_MISSING', `connection '${connection}' needs the ${pkg} package, which is not installed; run: npm install ${pkg}`, { cause: error });
    }
    throw error;
  }
}
