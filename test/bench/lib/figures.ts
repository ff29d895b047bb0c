/** What the bench reports: figures (one per table row), their per-round samples, goals and verdicts. */
import { median } from './common.ts';

export type Unit = 'jobs/s' | 'ms' | 'MB' | '%';
/** Our samples, and the other contender's in the same run: BullMQ, a PostgreSQL queue, or a physical floor. */
export type Side = 'ours' | 'peer';

export type Goal =
  /** ours ÷ the peer at least this (higher is better; for a time, lower is better: see `verdict`). */
  | { kind: 'ratio-min'; value: number }
  /** ours at most this (`strict`: below it). */
  | { kind: 'max'; value: number; strict?: boolean }
  /** ours at least this. */
  | { kind: 'min'; value: number };

export interface Sample {
  value: number;
  /** How it was obtained, for the per-round listing: "5,000 jobs in 1,234 ms". */
  detail: string;
  raw?: Record<string, unknown>;
}

export interface Figure {
  key: string;
  label: string;
  unit: Unit;
  goal?: Goal;
  /** Who the peer samples are of; absent: BullMQ. */
  peerName?: string;
  ours: Sample[];
  peer: Sample[];
}

export interface Row {
  key: string;
  label: string;
  unit: Unit;
  ours: number | null;
  /** The peer's median, and who the peer is ('BullMQ', 'graphile-worker', 'bare EVALSHA', ...). */
  peer: number | null;
  peerName: string;
  /** ours ÷ peer. */
  ratio: number | null;
  goal: string;
  met: boolean | null;
}

export function goalText(goal: Goal | undefined, unit: Unit, peerName = 'BullMQ'): string {
  if (!goal) return '';
  switch (goal.kind) {
    case 'ratio-min': return `>= ${goal.value}x ${peerName}`;
    case 'max': return `${goal.strict ? '<' : '<='} ${goal.value} ${unit}`;
    case 'min': return `>= ${goal.value.toLocaleString('en-US')} ${unit}`;
  }
}

function verdict(goal: Goal | undefined, ours: number | null, ratio: number | null): boolean | null {
  if (!goal || ours === null) return null;
  switch (goal.kind) {
    case 'ratio-min': return ratio === null ? null : ratio >= goal.value;
    case 'max': return goal.strict ? ours < goal.value : ours <= goal.value;
    case 'min': return ours >= goal.value;
  }
}

export function rowOf(figure: Figure, label = figure.label, goal = figure.goal): Row {
  const ours = figure.ours.length ? median(figure.ours.map((s) => s.value)) : null;
  const peer = figure.peer.length ? median(figure.peer.map((s) => s.value)) : null;
  const ratio = ours !== null && peer ? ours / peer : null;
  const peerName = figure.peerName ?? 'BullMQ';
  return { key: figure.key, label, unit: figure.unit, ours, peer, peerName, ratio, goal: goalText(goal, figure.unit, peerName), met: verdict(goal, ours, ratio) };
}

/** The better of two figures' medians, as its own row ("best of c=1 and c=50: c=50"). */
export function bestOf(key: string, label: string, a: Figure, b: Figure, names: [string, string], goal: Goal): Row | undefined {
  const ra = rowOf(a);
  const rb = rowOf(b);
  if (ra.ours === null || rb.ours === null) return undefined;
  const [best, name] = ra.ours >= rb.ours ? [a, names[0]] : [b, names[1]];
  return { ...rowOf(best, `${label} (best of ${names.join(' and ')}: ${name})`, goal), key };
}

export function formatValue(value: number | null, unit: Unit): string {
  if (value === null || Number.isNaN(value)) return '-';
  if (unit === 'jobs/s') return `${Math.round(value).toLocaleString('en-US')} jobs/s`;
  if (unit === 'ms') return `${value.toFixed(value < 10 ? 3 : 1)} ms`;
  if (unit === '%') return `${value.toFixed(2)} %`;
  return `${value.toFixed(1)} MB`;
}

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

export function table(rows: Row[]): string {
  const cells = rows.map((r) => [
    r.label,
    formatValue(r.ours, r.unit),
    r.peer === null ? '' : `${formatValue(r.peer, r.unit)} (${r.peerName})`,
    r.ratio === null ? '' : `${r.ratio.toFixed(2)}x`,
    r.goal,
    r.met === null ? '' : r.met ? 'met' : 'NOT MET',
  ]);
  return pad([['figure', 'ours (median)', 'peer (median)', 'ratio (ours/peer)', 'SPEC goal', 'result'], ...cells]);
}

export function roundsListing(figures: Figure[]): string {
  const lines: string[] = [];
  for (const figure of figures) {
    lines.push(`${figure.label}`);
    for (const side of ['ours', 'peer'] as const) {
      if (!figure[side].length) continue;
      const samples = figure[side].map((s, i) => `r${i + 1} ${formatValue(s.value, figure.unit)} (${s.detail})`);
      lines.push(`  ${side === 'ours' ? 'ours' : figure.peerName ?? 'BullMQ'}: ${samples.join('; ')}`);
    }
  }
  return lines.join('\n');
}
