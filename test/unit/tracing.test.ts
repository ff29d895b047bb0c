/**
 * OpenTelemetry, with a real SDK tracer provider (spans kept in memory) and its default W3C
 * propagator: dispatch() writes the active trace context into the envelope, and each try of the job
 * runs in a CONSUMER span that continues it, in a worker loop (on the in-memory driver) and inline.
 * First, with the API but no provider registered: nothing is traced.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { dispatch, Queue } from '../../src/index.ts';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../../src/jobs/envelope.ts';
import { Job, type JobContext } from '../../src/jobs/Job.ts';
import { openPayload, payloadRules, sealPayload } from '../../src/jobs/payload.ts';
import { JobRegistry } from '../../src/jobs/registry.ts';
import { generateAppKey } from '../../src/jobs/seal.ts';
import { Worker } from '../../src/worker/Worker.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { silent } from '../helpers/in-process.ts';

/** The span id handle() saw as the active span's, one line per try ('none' outside any). */
const activeInHandle: string[] = [];

class Traced extends Job {
  static maxTries = 2;
  fails = false;

  handle(ctx: JobContext): void {
    activeInHandle.push(trace.getActiveSpan()?.spanContext().spanId ?? 'none');
    if (this.fails) throw new Error(`Traced: down on try ${ctx.attempt}`);
  }
}

const registry = new JobRegistry([{ name: 'Traced', jobClass: Traced, file: 'app/jobs/Traced.ts' }]);

/** Dispatches one Traced job through dispatch() (recorded by Queue.fake()) and returns its envelope. */
async function dispatched(fields: Partial<Traced> = {}): Promise<Envelope> {
  const fake = Queue.fake();
  await dispatch(Object.assign(new Traced(), fields));
  return fake.dispatched[0]!.envelope;
}

/** Runs `work` inside a new active span, which it ends; returns the span and what `work` returned. */
async function inSpan<T>(name: string, work: () => Promise<T>): Promise<{ span: Span; value: T }> {
  return trace.getTracer('test').startActiveSpan(name, async (span) => {
    try {
      return { span, value: await work() };
    } finally {
      span.end();
    }
  });
}

/** Stores the envelope in a fresh in-memory backend and runs a worker until its queue is empty. */
async function work(envelope: Envelope): Promise<void> {
  const driver = new MemoryDriver();
  await driver.push([{ id: envelope.id, queue: envelope.queue, payload: encodeEnvelope(envelope), delayMs: 0, timeoutMs: null }]);
  await new Worker(driver, registry, {
    queues: ['default'], concurrency: 1, sleep: 0.02, rest: 0, once: false, stopWhenEmpty: true, defaults: { maxTries: 3, timeout: 5, backoff: [0] }, leaseMargin: 1,
  }, silent).run();
}

describe('tracing with @opentelemetry/api but no tracer provider registered', () => {
  after(() => Queue.restore());

  it('writes no trace context and runs the job in no span', async () => {
    activeInHandle.length = 0;
    const { value: envelope } = await inSpan('request', () => dispatched());
    assert.equal(envelope.trace, undefined);
    await work(envelope);
    assert.deepEqual(activeInHandle, ['none']);
  });
});

describe('tracing with a tracer provider registered', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const processSpans = (): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.name === 'Traced process');

  before(() => provider.register());
  beforeEach(() => {
    exporter.reset();
    activeInHandle.length = 0;
  });
  after(async () => {
    Queue.restore();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('dispatch() in a span writes its W3C trace context into the envelope; push, later and bulk do too', async () => {
    const { span, value: envelope } = await inSpan('POST /orders', () => dispatched());
    const { traceId, spanId } = span.spanContext();
    assert.deepEqual(envelope.trace, { traceparent: `00-${traceId}-${spanId}-01` });
    const { value: more } = await inSpan('POST /batch', async () => {
      const fake = Queue.fake();
      await Queue.push(new Traced());
      await Queue.later(60, new Traced());
      await Queue.bulk([new Traced(), new Traced()]);
      return fake.dispatched.map((d) => d.envelope.trace?.traceparent?.split('-')[1]);
    });
    assert.equal(new Set(more).size, 1, 'all four in one trace');
    assert.equal(more.length, 4);
  });

  it("a worker runs the job in a CONSUMER span, a child of the dispatching span, that handle() sees as active", async () => {
    const { span: dispatching, value: envelope } = await inSpan('POST /orders', () => dispatched());
    await work(envelope);
    const [span] = processSpans();
    assert.ok(span, 'one span for the try');
    assert.equal(span.spanContext().traceId, dispatching.spanContext().traceId);
    assert.equal(span.parentSpanContext?.spanId, dispatching.spanContext().spanId);
    assert.equal(span.kind, SpanKind.CONSUMER);
    assert.deepEqual(span.attributes, {
      'messaging.system': 'queuework',
      'messaging.operation.type': 'process',
      'messaging.operation': 'process',
      'messaging.destination.name': 'default',
      'messaging.message.id': envelope.id,
      'queuework.job.name': 'Traced',
      'queuework.job.attempt': 1,
    });
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.instrumentationScope.name, 'queuework');
    assert.deepEqual(activeInHandle, [span.spanContext().spanId]);
  });

  it('a failing try ends its span with status ERROR and the exception; each try has its own span', async () => {
    const { span: dispatching, value: envelope } = await inSpan('POST /orders', () => dispatched({ fails: true }));
    await work(envelope);
    const spans = processSpans();
    assert.deepEqual(spans.map((span) => span.attributes['queuework.job.attempt']), [1, 2]);
    for (const [i, span] of spans.entries()) {
      assert.equal(span.parentSpanContext?.spanId, dispatching.spanContext().spanId);
      assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message: `Traced: down on try ${i + 1}` });
      assert.deepEqual(span.events.map((event) => [event.name, event.attributes?.['exception.message']]), [['exception', `Traced: down on try ${i + 1}`]]);
    }
  });

  it('a job dispatched outside any span runs in the root span of a new trace', async () => {
    const envelope = await dispatched();
    assert.equal(envelope.trace, undefined);
    await work(envelope);
    const [span] = processSpans();
    assert.ok(span);
    assert.equal(span.parentSpanContext, undefined);
    assert.deepEqual(activeInHandle, [span.spanContext().spanId]);
  });

  it('inline (Queue.fake().runAll(), the sync connection) each try runs in the same kind of span', async () => {
    const fake = Queue.fake();
    const { span: dispatching } = await inSpan('POST /orders', () => dispatch(Object.assign(new Traced(), { fails: true })));
    const [run] = await fake.runAll();
    assert.equal(run!.attempts, 2);
    const spans = processSpans();
    assert.deepEqual(spans.map((span) => [span.parentSpanContext?.spanId, span.status.code]), [
      [dispatching.spanContext().spanId, SpanStatusCode.ERROR],
      [dispatching.spanContext().spanId, SpanStatusCode.ERROR],
    ]);
    assert.deepEqual(activeInHandle, spans.map((span) => span.spanContext().spanId));
  });

  it('the trace context is checked when a payload is opened, kept in clear on an encrypted job, and signed', async () => {
    const { value: envelope } = await inSpan('POST /orders', () => dispatched());
    const rules = payloadRules({ appKey: generateAppKey(), signed: true });
    const sealed = sealPayload(envelope, true, rules);
    assert.deepEqual(openPayload(sealed, rules).envelope.trace, envelope.trace);
    const tampered = sealed.replace(/"traceparent":"00-[0-9a-f]{32}/, `"traceparent":"00-${'1'.repeat(32)}`);
    assert.notEqual(tampered, sealed);
    assert.throws(() => openPayload(tampered, rules), /payload signature does not match/);
    for (const trace of [[], 'traceparent', { traceparent: 1 }, { 'bad name': 'x' }, Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, 'x']))]) {
      assert.throws(() => decodeEnvelope(JSON.stringify({ ...envelope, trace })), /payload has an invalid trace context/);
    }
  });
});
