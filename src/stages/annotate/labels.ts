/**
 * Training labels: a cell-type table (CSV with pt_root_id, cell_type and optionally
 * classification_system, e.g. a CAVE cell-type table) or the store's cells table; node labels
 * (CSV pt_root_id, node, compartment) or a compartment label layer (LabelSampler). And the
 * assembly of labelled feature samples for the classifiers.
 */
import { promises as fs } from 'node:fs';
import { FormatError, UsageError } from '../../core/errors.js';
import { COMPARTMENTS, compartmentCode } from './compartments.js';
import type { LabelledSamples } from './classify.js';
import { CELL_FEATURE_NAMES, nodeFeatures } from './features.js';
import type { CellAnnotation, LoadedCells } from './run.js';
import type { LabelSampler } from './truth.js';
import { adjacency } from './tree.js';

export interface CellLabel {
  id: bigint;
  cell_type: string;
  classification_system?: string;
  line: number;
}

function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '', q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') { out.push(cur); cur = ''; }
    else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

async function readCsv(file: string, need: string[]): Promise<{ rows: string[][]; col: Record<string, number> }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read: ${(err as Error).message}`, file);
  }
  const lines = text.split(/\r?\n/);
  const head = splitCsv(lines[0] ?? '').map((h) => h.toLowerCase());
  const col: Record<string, number> = {};
  for (const h of need) {
    const i = head.indexOf(h);
    if (i < 0) throw new FormatError(`header has no "${h}" column (expected ${need.join(', ')}; found ${head.join(', ')})`, file);
    col[h] = i;
  }
  head.forEach((h, i) => { if (!(h in col)) col[h] = i; });
  const rows: string[][] = [];
  for (let k = 1; k < lines.length; k++) rows.push(lines[k].trim() === '' ? [] : splitCsv(lines[k]));
  return { rows, col };
}

/** A cell-type table: pt_root_id, cell_type[, classification_system]. Empty cell_type rows are skipped. */
export async function readCellLabels(file: string): Promise<CellLabel[]> {
  const { rows, col } = await readCsv(file, ['pt_root_id', 'cell_type']);
  const out: CellLabel[] = [];
  const seen = new Map<bigint, number>();
  rows.forEach((w, k) => {
    if (w.length === 0) return;
    const line = k + 2;
    const idText = w[col.pt_root_id];
    if (!/^\d+$/.test(idText ?? '') || BigInt(idText) >= 1n << 64n) throw new FormatError(`line ${line}: pt_root_id ${JSON.stringify(idText)} is not an unsigned 64-bit id`, file);
    const id = BigInt(idText);
    const t = w[col.cell_type] ?? '';
    if (t === '') return;
    const prev = seen.get(id);
    if (prev !== undefined) throw new FormatError(`line ${line}: pt_root_id ${id} already labelled at line ${prev}`, file);
    seen.set(id, line);
    out.push({ id, cell_type: t, classification_system: col.classification_system !== undefined ? w[col.classification_system] || undefined : undefined, line });
  });
  return out;
}

/** Every label id must be a cell of the store: else an error naming how many and the first. */
export function checkLabelIds(labels: CellLabel[], storeIds: Set<bigint>, where: string): void {
  const missing = labels.filter((l) => !storeIds.has(l.id));
  if (missing.length) throw new UsageError(`${missing.length} of ${labels.length} labelled cells are not in the store's cells table (first: pt_root_id ${missing[0].id} at line ${missing[0].line}); were the labels made for another segmentation or version?`, where);
}

export interface NodeLabel {
  id: bigint;
  node: number;
  compartment: number;
}

/** Node labels: pt_root_id, node, compartment (a name of COMPARTMENTS). */
export async function readNodeLabels(file: string): Promise<NodeLabel[]> {
  const { rows, col } = await readCsv(file, ['pt_root_id', 'node', 'compartment']);
  const out: NodeLabel[] = [];
  rows.forEach((w, k) => {
    if (w.length === 0) return;
    const line = k + 2;
    const idText = w[col.pt_root_id];
    if (!/^\d+$/.test(idText ?? '')) throw new FormatError(`line ${line}: pt_root_id ${JSON.stringify(idText)} is not an unsigned 64-bit id`, file);
    const node = Number(w[col.node]);
    if (!Number.isInteger(node) || node < 0) throw new FormatError(`line ${line}: node ${JSON.stringify(w[col.node])} is not a skeleton vertex index`, file);
    let c: number;
    try {
      c = compartmentCode(w[col.compartment] ?? '', `line ${line}`);
    } catch (err) {
      throw new FormatError((err as Error).message, file);
    }
    out.push({ id: BigInt(idText), node, compartment: c });
  });
  return out;
}

/**
 * Node samples from a truth layer (every node whose truth is not 0) or node labels. Groups are
 * cells, so cross-validation never tests on a cell it trained on.
 */
export async function compartmentSamples(loaded: LoadedCells, ann: Map<bigint, CellAnnotation>, truth: { sampler?: LabelSampler; labels?: NodeLabel[]; where: string }): Promise<LabelledSamples> {
  const xs: Float32Array[] = [];
  const labels: string[] = [];
  const groups: number[] = [];
  const names: Array<[bigint, number]> = [];
  let featureNames: string[] = [];
  const byCell = new Map<bigint, NodeLabel[]>();
  for (const l of truth.labels ?? []) {
    let a = byCell.get(l.id);
    if (!a) byCell.set(l.id, (a = []));
    a.push(l);
  }
  const cellIds = new Set(loaded.cells.map((c) => c.id));
  for (const id of byCell.keys()) if (!cellIds.has(id)) throw new UsageError(`labelled cell ${id} has no skeleton (or is not in the store)`, truth.where);
  for (const [ci, c] of loaded.cells.entries()) {
    const a = ann.get(c.id)!;
    const n = c.skeleton.vertices.length / 3;
    let pick: Array<[number, number]> = [];
    if (truth.sampler) {
      const t = await truth.sampler.sample(c.skeleton.vertices);
      for (let i = 0; i < n; i++) if (t[i] > 0 && t[i] < COMPARTMENTS.length) pick.push([i, t[i]]);
    } else {
      pick = (byCell.get(c.id) ?? []).map((l) => {
        if (l.node >= n) throw new UsageError(`cell ${c.id}: node ${l.node} but its skeleton has ${n} vertices`, truth.where);
        return [l.node, l.compartment];
      });
    }
    if (pick.length === 0) continue;
    const { x, names: fn } = nodeFeatures(c, a.org, a.rule, adjacency(c.skeleton));
    featureNames = fn;
    const F = fn.length;
    for (const [i, code] of pick) {
      xs.push(x.subarray(i * F, (i + 1) * F));
      labels.push(COMPARTMENTS[code]);
      groups.push(ci);
      names.push([c.id, i]);
    }
  }
  const F = featureNames.length;
  const x = new Float32Array(labels.length * F);
  xs.forEach((r, i) => x.set(r, i * F));
  return { x, features: featureNames, labels, groups, name: (i) => `node ${names[i][1]} of cell ${names[i][0]}`, where: truth.where };
}

/** Cell samples: the cells with a label and a skeleton of at least `minCableUm` µm of cable. */
export function cellTypeSamples(loaded: LoadedCells, ann: Map<bigint, CellAnnotation>, labels: CellLabel[], where: string, minCableUm = 0): LabelledSamples {
  const byId = new Map(labels.map((l) => [l.id, l]));
  const F = CELL_FEATURE_NAMES.length;
  const rows: Float32Array[] = [];
  const ys: string[] = [];
  const ids: bigint[] = [];
  for (const c of loaded.cells) {
    const l = byId.get(c.id);
    if (!l) continue;
    if (ann.get(c.id)!.cellFeatures[0] < minCableUm) continue; // feature 0 = cable_length_um
    rows.push(ann.get(c.id)!.cellFeatures);
    ys.push(l.cell_type);
    ids.push(c.id);
  }
  const x = new Float32Array(rows.length * F);
  rows.forEach((r, i) => x.set(r, i * F));
  return { x, features: [...CELL_FEATURE_NAMES], labels: ys, groups: ids.map((_, i) => i), name: (i) => `cell ${ids[i]}`, where };
}
