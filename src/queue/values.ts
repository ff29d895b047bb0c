/** Values of a job (its fields, result, progress) as a person reads them: JSON, with what JSON lacks written out. */
export function describeValue(value: unknown): string {
  if (value === undefined) return '(nothing)';
  const short = JSON.stringify(value, replacer);
  if (short === undefined) return String(value);
  // Short values on one line; longer ones indented, one field a line.
  return short.length <= 72 ? short : JSON.stringify(value, replacer, 2);
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === 'bigint') return `${raw}n`;
  if (raw instanceof Date) return raw.toISOString();
  if (raw instanceof Map) return Object.fromEntries([...raw].map(([k, v]) => [String(k), v]));
  if (raw instanceof Set) return [...raw];
  if (raw === undefined) return '(undefined)';
  return value;
}

/** The value as plain JSON data (BigInts as "12n" strings, Dates as ISO strings, Maps as objects), for --json. */
export function jsonSafe(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value, replacer) ?? 'null');
}
