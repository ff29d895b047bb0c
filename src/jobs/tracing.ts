/**
 * OpenTelemetry, when the application has `@opentelemetry/api` (an optional peer dependency). At
 * dispatch, the active trace context goes into the envelope (`trace`, written by the registered
 * propagator: W3C `traceparent`, and `tracestate` when there is one); each try of the job then runs
 * in a CONSUMER span that continues it, so one trace goes from the request that dispatched the job
 * through the job's handle() and whatever handle() calls.
 *
 * It lives beside the envelope because both ends need it: packJob() writes the field (every way of
 * dispatching builds envelopes there) and the code that runs a try, a layer up, reads it.
 *
 * The package is looked for once, with a dynamic import. Until then, and for good when it is
 * absent, every function here returns after one comparison: no work per job. With the package but
 * no tracer provider registered (the SDK not started), a try costs a few property reads.
 */
import type * as OpenTelemetry from '@opentelemetry/api';
import { firstLine } from '../errors.ts';
import { ownPackage } from '../modules/resolve.ts';
import type { Envelope } from './envelope.ts';

/** The API, once looked for: undefined before, null when it could not be loaded. */
let api: typeof OpenTelemetry | null | undefined;
let looking: Promise<void> | undefined;

/**
 * Looks for `@opentelemetry/api`, the first time it is called; resolves once it has looked.
 * Tracing is an extra: whatever stops the package loading (not installed, or broken), jobs are
 * dispatched and run as they would be without it.
 */
export function loadTracing(): Promise<void> {
  looking ??= import('@opentelemetry/api').then(
    (module) => void (api = module),
    () => void (api = null),
  );
  return looking;
}

/**
 * The active trace context as the registered propagator writes it, for the envelope's `trace`;
 * undefined when there is no valid span context (sampled or not) or nothing to write.
 */
export function activeTrace(): Record<string, string> | undefined {
  if (!api) return undefined;
  const active = api.context.active();
  const span = api.trace.getSpanContext(active);
  if (!span || !api.isSpanContextValid(span)) return undefined;
  const carrier: Record<string, string> = {};
  api.propagation.inject(active, carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** What a try settles with, as much of it as its span needs. */
type Settled = { ok: true } | { ok: false; error: Error };

/**
 * Runs one try of the job of `envelope` inside its span: a child of the context the envelope
 * carries, or a new trace's root when it carries none (a job dispatched outside any span, by the
 * CLI or a schedule, is traced all the same). handle() sees the span as the active one. The span
 * ends when the try does, with status ERROR and the exception when the try failed.
 */
export function traceTry<R extends Settled>(envelope: Envelope, attempt: number, run: () => Promise<R>): Promise<R> {
  if (api === undefined) return loadTracing().then(() => traceTry(envelope, attempt, run));
  if (api === null) return run();
  const tracer = activeTracer(api);
  return tracer ? runInSpan(api, tracer, envelope, attempt, run) : run();
}

function runInSpan<R extends Settled>(otel: typeof OpenTelemetry, tracer: OpenTelemetry.Tracer, envelope: Envelope, attempt: number, run: () => Promise<R>): Promise<R> {
  const parent = envelope.trace ? otel.propagation.extract(otel.ROOT_CONTEXT, envelope.trace) : otel.ROOT_CONTEXT;
  const options = { kind: otel.SpanKind.CONSUMER, attributes: attributes(envelope, attempt) };
  return tracer.startActiveSpan(`${envelope.job} process`, options, parent, async (span) => {
    try {
      const result = await run();
      if (!result.ok) {
        span.recordException(result.error);
        span.setStatus({ code: otel.SpanStatusCode.ERROR, message: firstLine(result.error.message) });
      }
      return result;
    } finally {
      span.end();
    }
  });
}

/**
 * The registered provider's tracer, or undefined while none is registered: the API's own answer
 * then is a no-op tracer whose spans would cost an allocation and a context switch per try, for
 * nothing. (A provider registered by another copy of the API is not the proxy class of this one:
 * its tracer is used as it is.)
 */
function activeTracer(otel: typeof OpenTelemetry): OpenTelemetry.Tracer | undefined {
  const { name, version } = ownPackage();
  const provider = otel.trace.getTracerProvider();
  return provider instanceof otel.ProxyTracerProvider ? provider.getDelegateTracer(name, version) : provider.getTracer(name, version);
}

/**
 * The OpenTelemetry messaging conventions for a consumer's "process" span (both
 * `messaging.operation.type` and the older `messaging.operation`, which many backends still read),
 * and what only a job has: its name and which try this is.
 */
function attributes(envelope: Envelope, attempt: number): OpenTelemetry.Attributes {
  return {
    'messaging.system': 'queuework',
    'messaging.operation.type': 'process',
    'messaging.operation': 'process',
    'messaging.destination.name': envelope.queue,
    'messaging.message.id': envelope.id,
    'queuework.job.name': envelope.job,
    'queuework.job.attempt': attempt,
  };
}
