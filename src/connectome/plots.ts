import sharp from 'sharp';
import { writeFileAtomic } from '../core/atomic.js';
import { UsageError } from '../core/errors.js';

/**
 * Plain SVG charts written by hand (no plotting library): bar charts, line charts with error
 * bars, heatmaps. PNG comes from rendering the SVG with sharp.
 */

const W = 720;
const H = 440;
const M = { left: 80, right: 24, top: 44, bottom: 80 };

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** "Nice" tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function frame(title: string, body: string, width = W, height = H): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>
${body}
</svg>
`;
}

function axes(xLabel: string, yLabel: string, yTicks: number[], y: (v: number) => number, yFmt: (v: number) => string = fmt): string {
  const x0 = M.left;
  const x1 = W - M.right;
  const yb = H - M.bottom;
  let s = `<line x1="${x0}" y1="${yb}" x2="${x1}" y2="${yb}" stroke="black"/><line x1="${x0}" y1="${M.top}" x2="${x0}" y2="${yb}" stroke="black"/>\n`;
  for (const t of yTicks) {
    const py = y(t);
    s += `<line x1="${x0 - 4}" y1="${py}" x2="${x0}" y2="${py}" stroke="black"/><text x="${x0 - 7}" y="${py + 4}" text-anchor="end">${esc(yFmt(t))}</text>\n`;
    s += `<line x1="${x0}" y1="${py}" x2="${x1}" y2="${py}" stroke="#ddd" stroke-width="0.5"/>\n`;
  }
  s += `<text x="${(x0 + x1) / 2}" y="${H - 16}" text-anchor="middle">${esc(xLabel)}</text>\n`;
  s += `<text transform="translate(18 ${(M.top + yb) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>\n`;
  return s;
}

export interface Bar {
  label: string;
  value: number;
  /** Optional error bar half-length. */
  err?: number;
}

/** Vertical bar chart; `logY` uses a log10 axis (values <= 0 sit on the axis). */
export function barChart(o: { title: string; xLabel: string; yLabel: string; bars: Bar[]; logY?: boolean; color?: string }): string {
  const bars = o.bars;
  const n = Math.max(1, bars.length);
  const vals = bars.map((b) => b.value + (b.err ?? 0));
  const lows = bars.map((b) => Math.min(0, b.value - (b.err ?? 0)));
  let lo = Math.min(0, ...lows);
  let hi = Math.max(0, ...vals);
  let y: (v: number) => number;
  let yt: number[];
  let yFmt = fmt;
  if (o.logY) {
    const pos = bars.map((b) => b.value).filter((v) => v > 0);
    lo = Math.floor(Math.log10(Math.min(...pos, 1)));
    hi = Math.ceil(Math.log10(Math.max(...pos, 10)));
    y = (v) => H - M.bottom - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (H - M.top - M.bottom);
    yt = [];
    for (let e = lo; e <= hi; e++) yt.push(10 ** e);
    yFmt = (v) => fmt(v);
  } else {
    if (hi === lo) hi = lo + 1;
    y = (v) => H - M.bottom - ((v - lo) / (hi - lo)) * (H - M.top - M.bottom);
    yt = ticks(lo, hi);
  }
  const x0 = M.left;
  const bw = (W - M.left - M.right) / n;
  let body = axes(o.xLabel, o.yLabel, yt, y, yFmt);
  const every = Math.ceil(n / 30);
  bars.forEach((b, i) => {
    const base = o.logY ? y(10 ** lo) : y(0);
    const top = y(b.value);
    const px = x0 + i * bw + bw * 0.1;
    const h = Math.abs(base - top);
    body += `<rect x="${px.toFixed(2)}" y="${Math.min(base, top).toFixed(2)}" width="${(bw * 0.8).toFixed(2)}" height="${h.toFixed(2)}" fill="${o.color ?? '#4878a8'}"><title>${esc(b.label)}: ${fmt(b.value)}</title></rect>\n`;
    if (b.err) {
      const cx = px + bw * 0.4;
      body += `<line x1="${cx}" y1="${y(b.value - b.err)}" x2="${cx}" y2="${y(b.value + b.err)}" stroke="black"/>\n`;
    }
    if (i % every === 0) {
      const lx = px + bw * 0.4;
      body += `<text transform="translate(${lx.toFixed(2)} ${H - M.bottom + 14}) rotate(${n > 12 ? -45 : 0})" text-anchor="${n > 12 ? 'end' : 'middle'}" font-size="11">${esc(b.label)}</text>\n`;
    }
  });
  return frame(o.title, body);
}

export interface Series {
  name: string;
  x: number[];
  y: number[];
  err?: number[];
  color?: string;
}

/** Line chart with markers and optional error bars. */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: Series[] }): string {
  const xs = o.series.flatMap((s) => s.x);
  const ys = o.series.flatMap((s) => s.y.map((v, i) => v + (s.err?.[i] ?? 0)));
  const xlo = Math.min(...xs, 0);
  let xhi = Math.max(...xs, 1);
  if (xhi === xlo) xhi = xlo + 1;
  let yhi = Math.max(...ys, 0);
  const ylo = Math.min(0, ...o.series.flatMap((s) => s.y.map((v, i) => v - (s.err?.[i] ?? 0))));
  if (yhi === ylo) yhi = ylo + 1;
  const x = (v: number) => M.left + ((v - xlo) / (xhi - xlo)) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - ((v - ylo) / (yhi - ylo)) * (H - M.top - M.bottom);
  let body = axes(o.xLabel, o.yLabel, ticks(ylo, yhi), y);
  for (const t of ticks(xlo, xhi)) body += `<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(fmt(t))}</text><line x1="${x(t)}" y1="${H - M.bottom}" x2="${x(t)}" y2="${H - M.bottom + 4}" stroke="black"/>\n`;
  const palette = ['#4878a8', '#d0504a', '#5aa05a', '#8a6bb8', '#e0902a'];
  o.series.forEach((s, k) => {
    const c = s.color ?? palette[k % palette.length];
    const pts = s.x.map((v, i) => `${x(v).toFixed(2)},${y(s.y[i]).toFixed(2)}`).join(' ');
    body += `<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="1.5"/>\n`;
    s.x.forEach((v, i) => {
      body += `<circle cx="${x(v).toFixed(2)}" cy="${y(s.y[i]).toFixed(2)}" r="3" fill="${c}"><title>${esc(fmt(v))}: ${esc(fmt(s.y[i]))}</title></circle>\n`;
      const e = s.err?.[i];
      if (e) body += `<line x1="${x(v).toFixed(2)}" y1="${y(s.y[i] - e).toFixed(2)}" x2="${x(v).toFixed(2)}" y2="${y(s.y[i] + e).toFixed(2)}" stroke="${c}"/>\n`;
    });
    if (o.series.length > 1) body += `<text x="${W - M.right - 140}" y="${M.top + 16 * k + 8}" fill="${c}">${esc(s.name)}</text>\n`;
  });
  return frame(o.title, body);
}

/** Heatmap of a matrix with row/column labels; white (0) to dark blue (max). */
export function heatmap(o: { title: string; rows: string[]; cols: string[]; values: number[][]; rowLabel?: string; colLabel?: string }): string {
  const nr = Math.max(1, o.rows.length);
  const nc = Math.max(1, o.cols.length);
  const left = 110;
  const top = 100;
  const cell = Math.max(8, Math.min(48, Math.floor(560 / Math.max(nr, nc))));
  const width = left + nc * cell + 30;
  const height = top + nr * cell + 50;
  const max = Math.max(0, ...o.values.flat());
  let body = '';
  o.values.forEach((row, i) =>
    row.forEach((v, j) => {
      const t = max > 0 ? v / max : 0;
      const r = Math.round(255 - t * (255 - 20));
      const g = Math.round(255 - t * (255 - 60));
      const b = Math.round(255 - t * (255 - 140));
      body += `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="rgb(${r},${g},${b})" stroke="#eee" stroke-width="0.5"><title>${esc(o.rows[i])} → ${esc(o.cols[j])}: ${fmt(v)}</title></rect>\n`;
      if (cell >= 28) body += `<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" font-size="10" fill="${t > 0.5 ? 'white' : 'black'}">${esc(fmt(v))}</text>\n`;
    }),
  );
  o.rows.forEach((r, i) => (body += `<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" font-size="11">${esc(r)}</text>\n`));
  o.cols.forEach((c, j) => (body += `<text transform="translate(${left + j * cell + cell / 2 + 4} ${top - 6}) rotate(-60)" font-size="11">${esc(c)}</text>\n`));
  if (o.rowLabel) body += `<text transform="translate(14 ${top + (nr * cell) / 2}) rotate(-90)" text-anchor="middle">${esc(o.rowLabel)}</text>\n`;
  if (o.colLabel) body += `<text x="${left + (nc * cell) / 2}" y="${height - 14}" text-anchor="middle">${esc(o.colLabel)} (max ${esc(fmt(max))})</text>\n`;
  return frame(o.title, body, Math.max(width, 360), height);
}

/** Stack several SVG charts vertically into one SVG. */
export function stack(svgs: string[]): string {
  let y = 0;
  let width = 0;
  const parts: string[] = [];
  for (const s of svgs) {
    const w = Number(/width="(\d+(?:\.\d+)?)"/.exec(s)?.[1] ?? W);
    const h = Number(/height="(\d+(?:\.\d+)?)"/.exec(s)?.[1] ?? H);
    parts.push(`<g transform="translate(0 ${y})">${s.replace(/<\?xml[^>]*>/, '').replace(/^<svg[^>]*>/, '').replace(/<\/svg>\s*$/, '')}</g>`);
    y += h;
    width = Math.max(width, w);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">\n${parts.join('\n')}\n</svg>\n`;
}

/** Render an SVG string to PNG bytes. */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(Buffer.from(svg)).png().toBuffer());
}

/** Write a plot as .svg or .png (by extension), atomically. */
export async function writePlot(file: string, svg: string): Promise<void> {
  if (/\.svg$/i.test(file)) await writeFileAtomic(file, svg);
  else if (/\.png$/i.test(file)) await writeFileAtomic(file, await svgToPng(svg));
  else throw new UsageError(`plot file ${file}: expected a .svg or .png name`);
}
