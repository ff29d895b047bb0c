/** Flag value parsers: a bad value is a one-line usage error that names the flag, nothing changed. */
import { InvalidArgumentError } from 'commander';
import { FINISHED_STATES, JOB_STATES, PRIORITY_LIMIT, type FinishedState, type JobState } from '../contract/driver.ts';
import { durationMs } from '../jobs/settings.ts';

/** Seconds as people write them: digits, maybe a fraction (`30`, `2.5`); not `0x10`, `1e17` or ` 5`. */
export function seconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError(`expected seconds like 30 or 2.5, got '${value}'`);
  return Number(value);
}

export function positiveSeconds(value: string): number {
  const n = seconds(value);
  if (n <= 0) throw new InvalidArgumentError(`expected seconds > 0, got '${value}'`);
  return n;
}

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError(`expected a whole number >= 1, got '${value}'`);
  }
  return Number(value);
}

export function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError(`expected a whole number >= 0, got '${value}'`);
  return Number(value);
}

/** A parser of whole numbers from 0 to `max`. */
export function wholeUpTo(max: number): (value: string) => number {
  return (value) => {
    const n = wholeNumber(value);
    if (n > max) throw new InvalidArgumentError(`expected a whole number from 0 to ${max}, got '${value}'`);
    return n;
  };
}

/** A parser of whole numbers from 1 to `max`. */
export function intUpTo(max: number): (value: string) => number {
  return (value) => {
    const n = positiveInt(value);
    if (n > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}, got '${value}'`);
    return n;
  };
}

/** A priority: a whole number, negative allowed, within PRIORITY_LIMIT. */
export function priority(value: string): number {
  const n = Number(value.trim());
  if (!/^-?\d+$/.test(value.trim()) || Math.abs(n) > PRIORITY_LIMIT) throw new InvalidArgumentError(`expected a whole number from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT}, got '${value}'`);
  return n;
}

export function secondsList(value: string): number[] {
  const parts = value.split(',');
  try {
    return parts.map((part) => seconds(part.trim()));
  } catch {
    throw new InvalidArgumentError(`expected seconds like 10 or 10,60,300, got '${value}'`);
  }
}

export function queueList(value: string): string[] {
  const queues = value.split(',').map((q) => q.trim());
  if (queues.some((q) => q === '')) throw new InvalidArgumentError(`expected queue names separated by commas, got '${value}'`);
  return queues;
}

/** A duration as people write it: '90s', '30m', '1h', '2d', '1w', or seconds. */
export function duration(value: string): number {
  const trimmed = value.trim();
  try {
    return durationMs(/^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed, 'it');
  } catch {
    throw new InvalidArgumentError(`expected a duration like 90s, 30m, 1h, 2d or 1w, got '${value}'`);
  }
}

/** A job state (show, list). */
export function jobState(value: string): JobState {
  if (!JOB_STATES.includes(value as JobState)) throw new InvalidArgumentError(`expected one of ${JOB_STATES.join(', ')}, got '${value}'`);
  return value as JobState;
}

/** A finished state (clean). */
export function finishedState(value: string): FinishedState {
  if (!FINISHED_STATES.includes(value as JobState)) throw new InvalidArgumentError(`expected a finished state: ${FINISHED_STATES.join(', ')}, got '${value}'`);
  return value as FinishedState;
}
