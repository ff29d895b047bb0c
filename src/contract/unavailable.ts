import { QueueError } from '../errors.ts';

/**
 * The one shape of "the backend could not be reached" errors: what we tried, on which connection,
 * where (host:port or file, never a URL or password), and the driver's reason.
 */
export function backendUnavailable(what: string, kind: string, connection: string, where: string, reason: string, cause?: unknown): QueueError {
  return new QueueError('BACKEND_UNAVAILABLE', `cannot ${what} on ${kind} connection '${connection}' (${where}): ${reason}`, { cause });
}
