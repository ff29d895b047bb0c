/** The bench's output: the table, the notes, the anomalies and every round as text; the same as JSON. */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { progress } from './common.ts';
import { roundsListing, table, type Figure, type Row } from './figures.ts';

export interface Report {
  started: number;
  wallSeconds: number;
  loadAverage: { start: number[]; end: number[] };
  options: Record<string, unknown>;
  rows: Row[];
  figures: Figure[];
  notes: string[];
  anomalies: string[];
  rounds: number;
}

/** Prints the report; with `json`, the JSON goes to stdout (the text to stderr), or to `out`. */
export function writeReport(report: Report, output: { json: boolean; out?: string }): void {
  const { rows, notes, anomalies } = report;
  const text = [
    `queue benchmark: ${report.rounds} round(s), medians; node ${process.version}, ${cpus().length} cores; wall time ${report.wallSeconds} s`,
    '',
    table(rows),
    '',
    ...notes.map((note) => `- ${note}`),
    ...(anomalies.length ? ['', `ANOMALIES (${anomalies.length}):`, ...anomalies.map((a) => `- ${a}`)] : []),
    '',
    'Per-round numbers:',
    roundsListing(report.figures),
  ].join('\n');
  const json = JSON.stringify({
    startedAt: new Date(report.started).toISOString(),
    wallSeconds: report.wallSeconds,
    node: process.version,
    cores: cpus().length,
    loadAverage: report.loadAverage,
    options: report.options,
    rows,
    figures: report.figures,
    notes,
    anomalies,
  }, null, 2);
  if (output.out) writeFileSync(output.out, `${json}\n`);
  if (output.json && !output.out) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${json}\n`);
  } else {
    process.stdout.write(`${text}\n`);
    if (output.out) progress(`results written to ${output.out}`);
  }
}
