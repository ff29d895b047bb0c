import assert from 'node:assert/strict';
import { QueueError, type ErrorCode } from '../../src/errors.ts';

/** For assert.throws/rejects: a QueueError with this code whose message mentions every part. */
export function queueError(code: ErrorCode, ...parts: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof QueueError, `expected a QueueError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const part of parts) assert.ok(error.message.includes(part), `'${error.message}' should mention ${part}`);
    return true;
  };
}
