import { UsageError } from '../core/errors.js';
import type { Table } from './query.js';

export type OutputFormat = 'table' | 'csv' | 'json';

export function parseFormat(s: string | undefined, def: OutputFormat = 'table'): OutputFormat {
  const f = s ?? def;
  if (f !== 'table' && f !== 'csv' && f !== 'json') throw new UsageError(`--format ${JSON.stringify(f)}: expected table, csv or json`);
  return f;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'bigint') return v.toString(10);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (Array.isArray(v)) return `[${v.map(cell).join(' ')}]`;
  return String(v);
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : cell(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** JSON-ready rows: objects keyed by column; bigints as decimal strings. */
export function tableObjects(t: Table): Record<string, unknown>[] {
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c, typeof r[i] === 'bigint' ? (r[i] as bigint).toString(10) : r[i]])));
}

/** Render a table as aligned text, CSV (RFC 4180) or JSON (array of objects, ids as strings). */
export function renderTable(t: Table, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(tableObjects(t), (_k, v) => (typeof v === 'bigint' ? v.toString(10) : v), 2);
  if (format === 'csv') return [t.columns.map(csvCell).join(','), ...t.rows.map((r) => r.map(csvCell).join(','))].join('\n');
  const cells = [t.columns, ...t.rows.map((r) => r.map(cell))];
  const w = t.columns.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: unknown[]) => r.map((v, i) => (typeof t.rows[0]?.[i] === 'string' || i === 0 ? String(v).padEnd(w[i]) : String(v).padStart(w[i]))).join('  ');
  const out = [line(cells[0]), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)];
  if (t.rows.length === 0) out.push('(no rows)');
  return out.join('\n');
}
