import { QueueError } from '../errors.ts';

/**
 * The one shape of "the backend could not be used" errors: what we tried, on which connection,
 * where (host:port or file, never a URL or password), the driver's reason, and, when the server
 * refused us (a password, a database, a permission), what setting to fix.
 */
export function backendUnavailable(what: string, kind: string, connection: string, where: string, reason: string, cause?: unknown, fix?: string): QueueError {
  const why = reason.trim().replace(/\.$/, '');
  return new QueueError('BACKEND_UNAVAILABLE', `cannot ${what} on ${kind} connection '${connection}' (${where}): ${why}${fix ? `; ${fix}` : ''}`, { cause });
}

/** What a server refused: the login, the database named, or a statement the user may not run. */
export type Refusal = 'credentials' | 'database' | 'permission';
