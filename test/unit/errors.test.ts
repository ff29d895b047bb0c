/** Anything job code throws becomes an error the worker can record, whatever it is. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeError, firstLine, toError } from '../../src/errors.ts';

describe('toError and describeError', () => {
  it('keep Errors, wrap strings, and print other values as JSON', () => {
    const error = new Error('boom');
    assert.equal(toError(error), error);
    assert.equal(toError('plain').message, 'plain');
    assert.equal(toError({ code: 7 }).message, 'non-Error thrown: {"code":7}');
    assert.equal(toError(undefined).message, 'non-Error thrown: undefined');
    assert.match(describeError(error), /^Error: boom\n\s+at /);
  });

  it('never throw, even on a value whose String() throws or an Error whose stack getter throws', () => {
    const value = Object.create(null) as { self?: unknown };
    value.self = value;
    assert.equal(toError(value).message, 'non-Error thrown: [object Object]');
    assert.equal(describeError(value), '[object Object]');
    const hostile = new Error('x');
    Object.defineProperty(hostile, 'stack', { get: () => { throw new Error('no'); } });
    assert.equal(typeof describeError(hostile), 'string');
    assert.equal(firstLine(42 as unknown as string), '42');
  });
});
