/** Flag value parsers: a bad value is a one-line usage error that names the flag, nothing changed. */
import { InvalidArgumentError } from 'commander';

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

/** A parser of whole numbers from 1 to `max`. */
export function intUpTo(max: number): (value: string) => number {
  return (value) => {
    const n = positiveInt(value);
    if (n > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}, got '${value}'`);
    return n;
  };
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
