// Small hand-written SVG charts: the cell-type connectivity heat map and the size histogram.
import type { SizeHistogram, TypeMatrix } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Perceptual-ish sequential colour map (dark blue -> yellow), t in [0,1]. */
export function heatColour(t: number): string {
  const stops = [[13, 8, 135], [126, 3, 168], [204, 71, 120], [248, 149, 64], [240, 249, 33]];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function format(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

/** Heat map of values[pre][post]; log colour scale when the range is wide. */
export function matrixChart(m: TypeMatrix, width = 410): SVGSVGElement {
  const rows = m.preTypes.length;
  const cols = m.postTypes.length;
  const labelW = Math.min(110, 8 + 7 * Math.max(1, ...m.preTypes.map((t) => t.length)));
  const labelH = Math.min(110, 8 + 7 * Math.max(1, ...m.postTypes.map((t) => t.length)));
  const cell = Math.max(4, Math.min(40, Math.floor((width - labelW - 10) / Math.max(1, cols))));
  const svg = el('svg', { width: labelW + cols * cell + 10, height: labelH + rows * cell + 24, role: 'img', 'aria-label': 'connectivity matrix' });
  if (rows === 0 || cols === 0) {
    svg.setAttribute('height', '24');
    svg.setAttribute('width', '300');
    svg.append(el('text', { x: 4, y: 16, fill: '#888', 'font-size': 12 }, 'no connections between typed cells'));
    return svg;
  }
  let max = 0;
  for (const r of m.values) for (const v of r) max = Math.max(max, v);
  const log = max > 50;
  const scale = (v: number) => (max <= 0 ? 0 : log ? Math.log1p(v) / Math.log1p(max) : v / max);
  const g = el('g', { transform: `translate(${labelW},${labelH})` });
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = m.values[i][j];
      const r = el('rect', { class: 'cell', x: j * cell, y: i * cell, width: cell - 1, height: cell - 1, fill: v > 0 ? heatColour(scale(v)) : '#1e1e1e', 'data-pre': m.preTypes[i], 'data-post': m.postTypes[j], 'data-value': v });
      r.append(el('title', {}, `${m.preTypes[i]} -> ${m.postTypes[j]}: ${format(v)}`));
      g.append(r);
    }
  }
  svg.append(g);
  const fs = Math.min(12, Math.max(7, cell - 2));
  m.preTypes.forEach((t, i) => svg.append(el('text', { x: labelW - 4, y: labelH + i * cell + cell / 2 + fs / 3, 'text-anchor': 'end', fill: '#ccc', 'font-size': fs }, t)));
  m.postTypes.forEach((t, j) => {
    const x = labelW + j * cell + cell / 2 + fs / 3;
    svg.append(el('text', { x, y: labelH - 4, transform: `rotate(-60 ${x} ${labelH - 4})`, fill: '#ccc', 'font-size': fs }, t));
  });
  svg.setAttribute('width', String(Math.max(labelW + cols * cell + 10, 300)));
  svg.append(el('text', { x: 4, y: labelH + rows * cell + 16, fill: '#888', 'font-size': 11 }, `rows: pre, columns: post; max ${format(max)}${log ? ' (log colour)' : ''}`));
  return svg;
}

/** Bar chart of a size histogram. */
export function histogramChart(h: SizeHistogram, width = 410, height = 150): SVGSVGElement {
  const svg = el('svg', { width, height: height + 30, role: 'img', 'aria-label': 'synapse size histogram' });
  const max = Math.max(0, ...h.counts);
  if (max === 0) {
    svg.setAttribute('height', '24');
    svg.append(el('text', { x: 4, y: 16, fill: '#888', 'font-size': 12 }, 'no synapses'));
    return svg;
  }
  const left = 36;
  const w = (width - left - 6) / h.counts.length;
  const step = (h.max - h.min) / h.counts.length;
  h.counts.forEach((c, i) => {
    const bh = (c / max) * height;
    const r = el('rect', { x: left + i * w, y: height - bh, width: Math.max(1, w - 1), height: bh, fill: '#5b8fd6', 'data-count': c });
    r.append(el('title', {}, `${format(h.min + i * step)} - ${format(h.min + (i + 1) * step)}: ${c}`));
    svg.append(r);
  });
  svg.append(el('line', { x1: left, y1: height + 0.5, x2: width - 6, y2: height + 0.5, stroke: '#666' }));
  svg.append(el('text', { x: left - 4, y: 10, 'text-anchor': 'end', fill: '#aaa', 'font-size': 10 }, String(max)));
  svg.append(el('text', { x: left - 4, y: height, 'text-anchor': 'end', fill: '#aaa', 'font-size': 10 }, '0'));
  svg.append(el('text', { x: left, y: height + 14, fill: '#aaa', 'font-size': 10 }, format(h.min)));
  svg.append(el('text', { x: width - 6, y: height + 14, 'text-anchor': 'end', fill: '#aaa', 'font-size': 10 }, format(h.max)));
  svg.append(el('text', { x: (left + width) / 2, y: height + 27, 'text-anchor': 'middle', fill: '#888', 'font-size': 11 }, 'synapse size (voxels)'));
  return svg;
}
