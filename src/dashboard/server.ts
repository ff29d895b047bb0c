/**
 * `queue dashboard`'s server: node:http, no framework. It serves the page and its files, the
 * sections' data (GET /api/<section>), one job (GET /api/job/<id>), the live feed
 * (GET /api/events), Prometheus text (GET /metrics) and the actions (POST /api/<action>), on one
 * connection of the manager. Every request passes access.ts first; every answer carries its
 * security headers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { backendKind } from '../config/define.ts';
import { isQueueError, QueueError, type ErrorCode } from '../errors.ts';
import type { QueueManager } from '../queue/manager.ts';
import { prometheusText } from '../queue/prometheus.ts';
import { admit, checkExposure, newCsrfToken, refuseAction, SECURITY_HEADERS } from './access.ts';
import { ACTIONS, type ActionBody } from './actions.ts';
import { loadAssets, type Assets } from './assets.ts';
import type { DashboardContext } from './context.ts';
import { LiveFeed } from './live.ts';
import { OverviewReader } from './overview.ts';
import { readJob, readMeta, SECTIONS } from './sections.ts';

export interface DashboardOptions {
  manager: QueueManager;
  /** Default: the manager's default connection. */
  connection?: string;
  host: string;
  /** 0: any free port. */
  port: number;
  readOnly: boolean;
  /** QUEUE_DASHBOARD_TOKEN: asked of every request; required beyond loopback. */
  token?: string;
}

export interface Dashboard {
  /** Where it listens: http://127.0.0.1:8080 */
  url: string;
  connection: string;
  close(): Promise<void>;
}

/** Everything a request is answered from. */
interface Served {
  context: DashboardContext;
  assets: Assets;
  csrf: string;
  token: string | undefined;
  overview: OverviewReader;
  live: LiveFeed;
}

/** The largest action body read: a page of ids. */
const MAX_BODY_BYTES = 64 * 1024;

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  checkExposure(options.host, options.token);
  const { manager } = options;
  const driver = await manager.driver(options.connection);
  const context: DashboardContext = { manager, driver, connection: driver.connection, backend: backendKind(manager.config.connections[driver.connection]!), readOnly: options.readOnly };
  const overview = new OverviewReader(context);
  const served: Served = { context, assets: await loadAssets(), csrf: newCsrfToken(), token: options.token, overview, live: new LiveFeed(overview) };
  const server = createServer((request, response) => void answer(served, request, response));
  const port = await listen(server, options.host, options.port);
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    connection: context.connection,
    close: async () => {
      served.live.close();
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'is in use' : error.code === 'EACCES' ? 'needs privileges' : `cannot be bound (${error.message})`;
      reject(new QueueError('INVALID_ARGUMENT', `port ${port} on ${host} ${why}: choose another with --port, or --host`));
    });
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

async function answer(served: Served, request: IncomingMessage, response: ServerResponse): Promise<void> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
  try {
    const url = new URL(request.url ?? '/', 'http://dashboard');
    const admission = admit(request, url, served.token);
    if (!admission.admitted) return sendText(response, admission.status, admission.message, admission.headers);
    if (request.method === 'POST') return await act(served, request, response, url.pathname);
    if (request.method !== 'GET') return sendText(response, 405, 'GET or POST only', { Allow: 'GET, POST' });
    await read(served, response, url);
  } catch (error) {
    if (response.headersSent) return void response.end();
    sendJson(response, statusOf(error), { error: (error as Error).message ?? String(error) });
  }
}

async function read(served: Served, response: ServerResponse, url: URL): Promise<void> {
  const { context, assets } = served;
  const path = url.pathname;
  if (path === '/' || path === '/index.html') return send(response, 200, 'text/html; charset=utf-8', assets.page(served.csrf));
  if (path.startsWith('/assets/')) {
    const asset = assets.file(path.slice('/assets/'.length));
    return asset ? send(response, 200, asset.type, asset.body) : sendText(response, 404, 'no such file');
  }
  if (path === '/metrics') return send(response, 200, 'text/plain; version=0.0.4; charset=utf-8', await prometheusText(context.driver));
  if (path === '/api/events') return served.live.add(response);
  if (path === '/api/meta') return sendJson(response, 200, await readMeta(context));
  if (path.startsWith('/api/job/')) return sendJson(response, 200, await readJob(context, decodeURIComponent(path.slice('/api/job/'.length))));
  const section = SECTIONS.find((s) => path === `/api/${s.id}`);
  if (section) return sendJson(response, 200, await section.read({ context, query: url.searchParams, overview: served.overview }));
  sendText(response, 404, `nothing at ${path}`);
}

async function act(served: Served, request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
  const refusal = refuseAction(request, served.csrf, served.context.readOnly);
  if (refusal !== undefined) return sendJson(response, 403, { error: refusal });
  const action = path.startsWith('/api/') ? ACTIONS[path.slice('/api/'.length)] : undefined;
  if (!action) return sendJson(response, 404, { error: `no action at ${path}` });
  const body = await readBody(request);
  sendJson(response, 200, await action(served.context, body));
}

async function readBody(request: IncomingMessage): Promise<ActionBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new QueueError('INVALID_ARGUMENT', `the request is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new QueueError('INVALID_ARGUMENT', 'the request body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new QueueError('INVALID_ARGUMENT', 'the request body must be a JSON object');
  return body as ActionBody;
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  JOB_NOT_FOUND: 404,
  FAILED_JOB_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  JOB_FINISHED: 409,
  BACKEND_UNAVAILABLE: 503,
};

function statusOf(error: unknown): number {
  // A path that is not a URL, or escapes that decode to nothing.
  if (error instanceof URIError || (error instanceof TypeError && (error as NodeJS.ErrnoException).code === 'ERR_INVALID_URL')) return 400;
  return isQueueError(error) ? (STATUS_OF[error.code] ?? 500) : 500;
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function sendText(response: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  send(response, status, 'text/plain; charset=utf-8', `${text}\n`, headers);
}
