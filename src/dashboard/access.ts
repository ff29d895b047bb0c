/**
 * Who may use the dashboard and what protects each answer:
 *
 * - Bound to loopback with no token, a request must name a loopback host (Host header): a page
 *   elsewhere that points its own name at 127.0.0.1 (DNS rebinding) would otherwise read the API
 *   as if it were this origin.
 * - With QUEUE_DASHBOARD_TOKEN (required beyond loopback), every request carries it: an
 *   `Authorization: Bearer` header, or the cookie that `?token=` sets once (HttpOnly, SameSite=Strict,
 *   holding a hash of the token, never the token) before a redirect drops it from the address bar.
 * - Every change is a POST with the server's CSRF token in a header (the page reads it from a
 *   <meta>: a page of another origin cannot), JSON, from this origin (Origin, Sec-Fetch-Site).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { QueueError } from '../errors.ts';

/** On every answer: only this origin's files run, nobody frames the page, nothing is sniffed. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export const COOKIE = 'queue_dashboard';
/** A shorter token can be guessed by someone who may try many. */
const MIN_TOKEN_LENGTH = 16;

/** Refuses to serve beyond loopback without a token (and a token too short to be one). */
export function checkExposure(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new QueueError('CONFIG_INVALID', `QUEUE_DASHBOARD_TOKEN is too short: use at least ${MIN_TOKEN_LENGTH} random characters (e.g. \`openssl rand -hex 32\`)`);
  }
  if (token === undefined && !isLoopback(host)) {
    throw new QueueError('CONFIG_INVALID', `QUEUE_DASHBOARD_TOKEN is not set: the dashboard serves --host ${host} (beyond this machine) only with a token; set it, or bind 127.0.0.1`);
  }
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** A fresh CSRF token: one per server process, so a restart invalidates pages left open. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Let in, or refused with a status and a line (and headers: a redirect that sets the cookie). */
export type Admission = { admitted: true } | { admitted: false; status: number; message: string; headers?: Record<string, string> };

export function admit(request: IncomingMessage, url: URL, token: string | undefined): Admission {
  if (token === undefined) {
    const host = (request.headers.host ?? '').replace(/:\d+$/, '');
    if (isLoopback(host)) return { admitted: true };
    return { admitted: false, status: 421, message: `this dashboard answers to localhost only, not to '${host}'` };
  }
  const given = url.searchParams.get('token');
  if (given !== null) {
    if (!same(given, token)) return refusedWithoutToken();
    url.searchParams.delete('token');
    const cookie = `${COOKIE}=${session(token)}; HttpOnly; SameSite=Strict; Path=/`;
    // One leading slash: `//host/...` would send the browser to another site.
    const location = `/${url.pathname.replace(/^\/+/, '')}${url.search}`;
    return { admitted: false, status: 303, message: 'signed in', headers: { Location: location, 'Set-Cookie': cookie } };
  }
  const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (bearer !== undefined ? same(bearer, token) : same(cookieOf(request), session(token))) return { admitted: true };
  return refusedWithoutToken();
}

function refusedWithoutToken(): Admission {
  return { admitted: false, status: 401, message: 'this dashboard needs its token: open it once with ?token=<QUEUE_DASHBOARD_TOKEN>, or send Authorization: Bearer <token>' };
}

/** Why a change may not be made (answered 403, nothing changed), or undefined: go ahead. */
export function refuseAction(request: IncomingMessage, csrf: string, readOnly: boolean): string | undefined {
  if (readOnly) return 'this dashboard is read-only (--read-only): nothing was changed';
  const header = request.headers['x-csrf-token'];
  if (typeof header !== 'string' || !same(header, csrf)) return 'the CSRF token is missing or wrong (reload the page): nothing was changed';
  const { origin, host } = request.headers;
  if (origin !== undefined && !sameHost(origin, host)) return `a page of ${origin} may not change anything here: nothing was changed`;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `a ${site} request may not change anything here: nothing was changed`;
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) return 'send JSON (Content-Type: application/json): nothing was changed';
  return undefined;
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** What the cookie holds: a hash of the token, so the browser never keeps the token itself. */
function session(token: string): string {
  return createHash('sha256').update(`queue-dashboard-session\n${token}`).digest('base64url');
}

function cookieOf(request: IncomingMessage): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return value.join('=');
  }
  return undefined;
}

/** Compared in constant time (both hashed to one length first). */
function same(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
