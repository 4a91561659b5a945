/**
 * The annotate stage on a dataset: read skeletons (a segmentation layer with skeletons, or a
 * skeleton folder) and the connectome store's synapses and organelles, annotate every cell, and
 * write the node table, cell table, synapse compartments (+ compartment_tags), predicted cell
 * types, and a skeleton folder with a `compartment` vertex attribute.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../core/atomic.js';
import { UsageError } from '../../core/errors.js';
import { listSkeletons, readSkeleton } from '../../formats/mesh/skeleton.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import type { Vec3 } from '../../core/box.js';
import type { ConnectomeStore } from '../../connectome/store.js';
import { C, COMPARTMENTS, RULE_DEFAULTS, type RuleParams, type RuleResult, ruleCompartments } from './compartments.js';
import { type TrainedModel, predict } from './classify.js';
import { CELL_FEATURE_NAMES, TARGET_COUNT_SLOTS, TARGET_SPINY, TARGET_SPINY_SHAFT, cellFeatures, nodeFeatures, setOutputTargets } from './features.js';
import { type CellInput, type NodeOrganelles, ORGANELLE_DEFAULTS, type Points, cellOrganelles, nodeOrganelles } from './organelles.js';
import { adjacency, nodeCount } from './tree.js';
import { type CompartmentScores, CompartmentScorer } from './score.js';
import type { LabelSampler } from './truth.js';

export const ANNOTATED_SKELETONS = 'skeletons_annotated';

export interface SkeletonSource {
  /** folder of neuroglancer_skeletons files */
  dir: string;
  /** the segmentation layer, when the input was one */
  layer?: string;
  /** nm per voxel of the segmentation (organelle sizes are voxel counts) */
  voxelSize?: Vec3;
}

/** A segmentation layer with skeletons, or a neuroglancer_skeletons folder. */
export async function skeletonSource(input: string): Promise<SkeletonSource> {
  const infoFile = path.join(input, 'info');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await fs.readFile(infoFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot read ${infoFile}: expected a segmentation layer with skeletons or a skeleton folder (${(err as Error).message})`, input);
  }
  if (raw['@type'] === 'neuroglancer_skeletons') return { dir: input };
  const layer = await PrecomputedLayer.open(input);
  const sk = layer.info.skeletons;
  if (typeof sk !== 'string') throw new UsageError(`${infoFile} has no "skeletons" key: run \`wiring skeletonize ${input}\` first`, input);
  // read the original skeletons even after annotate pointed the info at its own folder
  const dir = sk === ANNOTATED_SKELETONS ? ((raw.wiring as Record<string, unknown> | undefined)?.skeletons_source as string) ?? 'skeletons' : sk;
  return { dir: path.join(input, dir), layer: input, voxelSize: layer.info.scales[0].resolution as Vec3 };
}

const pts = (rows: Record<string, unknown>[], p: string, sizeScale: number): Points => {
  const positions = new Float64Array(rows.length * 3);
  const size = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    positions[3 * i] = Number(r[`${p}_x`]);
    positions[3 * i + 1] = Number(r[`${p}_y`]);
    positions[3 * i + 2] = Number(r[`${p}_z`]);
    size[i] = r.size === null || r.size === undefined ? 0 : Number(r.size) * sizeScale;
  });
  return { positions, size };
};

export interface LoadedCells {
  cells: CellInput[];
  /** synapse ids per cell, in the order of synIn / synOut */
  synInIds: Map<bigint, bigint[]>;
  synOutIds: Map<bigint, bigint[]>;
  /** the pre cell of each input synapse, in the order of synIn */
  synInPre: Map<bigint, bigint[]>;
}

function groupBy(rows: Record<string, unknown>[], key: string): Map<bigint, Record<string, unknown>[]> {
  const m = new Map<bigint, Record<string, unknown>[]>();
  for (const r of rows) {
    const k = r[key] as bigint;
    let a = m.get(k);
    if (!a) m.set(k, (a = []));
    a.push(r);
  }
  return m;
}

/** `col IN (...)` for a list of ids (UBIGINT literals). */
const idList = (col: string, ids: readonly bigint[]) => `${col} IN (${ids.map((i) => `${i}::UBIGINT`).join(', ')})`;

/** The cells with skeletons: all, or `ids` (each must have one). */
export async function skeletonIds(src: SkeletonSource, ids?: readonly bigint[]): Promise<bigint[]> {
  const all = await listSkeletons(src.dir);
  if (!ids) return all;
  const have = new Set(all);
  for (const i of ids) if (!have.has(i)) throw new UsageError(`cell ${i} has no skeleton in ${src.dir}`);
  return [...new Set(ids)];
}

/**
 * Cells with skeletons, with their synapses (positions not NULL) and organelles from the store.
 * Organelle sizes are voxel counts: multiplied by the voxel volume to get nm^3. With `ids`, only
 * those cells' rows are read (annotateDataset reads batch by batch); without, every cell's.
 * `checked`: the ids are known to have skeletons (skip the folder listing).
 */
export async function loadCells(src: SkeletonSource, store: ConnectomeStore, opts: { ids?: bigint[]; checked?: boolean } = {}): Promise<LoadedCells> {
  const ids = opts.ids && opts.checked ? opts.ids : await skeletonIds(src, opts.ids);
  const vs = src.voxelSize ?? [1, 1, 1];
  const voxelVolume = vs[0] * vs[1] * vs[2];
  const idSet = new Set(ids);
  const filter = (col: string) => (opts.ids ? (ids.length ? idList(col, ids) : 'FALSE') : 'TRUE');
  const cols = 'id, pre_pt_root_id, post_pt_root_id, pre_pt_position_x, pre_pt_position_y, pre_pt_position_z, post_pt_position_x, post_pt_position_y, post_pt_position_z, size';
  const ins = groupBy((await store.all(`SELECT ${cols} FROM synapses WHERE ${filter('post_pt_root_id')} AND post_pt_position_x IS NOT NULL ORDER BY id`)).filter((r) => idSet.has(r.post_pt_root_id as bigint)), 'post_pt_root_id');
  const outs = groupBy((await store.all(`SELECT ${cols} FROM synapses WHERE ${filter('pre_pt_root_id')} AND pre_pt_position_x IS NOT NULL ORDER BY id`)).filter((r) => idSet.has(r.pre_pt_root_id as bigint)), 'pre_pt_root_id');
  const org = await store.all(`SELECT id, kind, pt_position_x, pt_position_y, pt_position_z, size, host_root_id FROM organelles WHERE ${filter('host_root_id')} AND pt_position_x IS NOT NULL ORDER BY id`);
  const mitos = groupBy(org.filter((r) => r.kind === 'mitochondrion'), 'host_root_id');
  const ves = groupBy(org.filter((r) => r.kind === 'vesicle_cloud'), 'host_root_id');
  const vols = new Map((await store.all(`SELECT pt_root_id, volume FROM cells WHERE ${filter('pt_root_id')}`)).map((r) => [r.pt_root_id as bigint, r.volume === null ? undefined : Number(r.volume)]));
  const cells: CellInput[] = [];
  const synInIds = new Map<bigint, bigint[]>();
  const synOutIds = new Map<bigint, bigint[]>();
  const synInPre = new Map<bigint, bigint[]>();
  for (const id of ids) {
    const s = await readSkeleton(src.dir, id);
    const i = ins.get(id) ?? [];
    const o = outs.get(id) ?? [];
    synInIds.set(id, i.map((r) => r.id as bigint));
    synOutIds.set(id, o.map((r) => r.id as bigint));
    synInPre.set(id, i.map((r) => r.pre_pt_root_id as bigint));
    cells.push({
      id,
      skeleton: s,
      synIn: pts(i, 'post_pt_position', 1),
      synOut: pts(o, 'pre_pt_position', 1),
      mito: pts(mitos.get(id) ?? [], 'pt_position', voxelVolume),
      vesicle: pts(ves.get(id) ?? [], 'pt_position', voxelVolume),
      volume: vols.get(id),
    });
  }
  return { cells, synInIds, synOutIds, synInPre };
}

/**
 * Add to `into` the output synapses of every pre cell by the compartment (code) of the node they
 * land on in these post cells: counts[pre][code], and the sums of those targets' spininess
 * (TARGET_SPINY, TARGET_SPINY_SHAFT). Feeds the out_* cell features.
 */
export function outputTargetCounts(loaded: LoadedCells, ann: Map<bigint, CellAnnotation>, into = new Map<bigint, Float64Array>()): Map<bigint, Float64Array> {
  for (const c of loaded.cells) {
    const a = ann.get(c.id)!;
    let spine = 0;
    for (const k of a.compartment) if (k === C.spineHead || k === C.spineNeck) spine++;
    const spininess = a.compartment.length ? spine / a.compartment.length : 0;
    loaded.synInPre.get(c.id)!.forEach((pre, k) => {
      const node = a.org.attachIn[k];
      if (node < 0) return;
      let m = into.get(pre);
      if (!m) into.set(pre, (m = new Float64Array(TARGET_COUNT_SLOTS)));
      m[a.compartment[node]]++;
      if (a.compartment[node] === 0) return;
      m[TARGET_SPINY] += spininess;
      if (a.compartment[node] === C.dendrite) m[TARGET_SPINY_SHAFT] += spininess;
    });
  }
  return into;
}

/** Set the out_on_* features of every annotated cell from `counts` (outputTargetCounts over all cells). */
export function applyOutputTargets(ann: Map<bigint, CellAnnotation>, counts: Map<bigint, Float64Array>): void {
  for (const [id, a] of ann) setOutputTargets(a.cellFeatures, counts.get(id));
}

export interface AnnotateOptions {
  radiusNm?: number;
  rules?: RuleParams;
  compartmentModel?: TrainedModel;
}

export interface CellAnnotation {
  org: NodeOrganelles;
  rule: RuleResult;
  /** final compartment codes (model when given, else rules) */
  compartment: Uint8Array;
  probability: Float32Array;
  cellFeatures: Float32Array;
}

/** Annotate one cell: organelles on nodes, rule compartments, model compartments, cell features. */
export function annotateCell(cell: CellInput, opts: AnnotateOptions = {}): CellAnnotation {
  const sk = cell.skeleton;
  const adj = adjacency(sk);
  const org = nodeOrganelles(cell, opts.radiusNm ?? ORGANELLE_DEFAULTS.radiusNm);
  const rule = ruleCompartments(sk, org.synOut, org.synIn, opts.rules ?? RULE_DEFAULTS, adj);
  let compartment = rule.compartment;
  let probability: Float32Array = new Float32Array(nodeCount(sk)).fill(NaN);
  if (opts.compartmentModel && nodeCount(sk) > 0) {
    const { x, names } = nodeFeatures(cell, org, rule, adj);
    const p = predict(opts.compartmentModel, x, names, (i) => `node ${i} of cell ${cell.id}`);
    compartment = Uint8Array.from(p.label, (l) => COMPARTMENTS.indexOf(l as (typeof COMPARTMENTS)[number]));
    probability = p.probability;
  }
  return { org, rule, compartment, probability, cellFeatures: cellFeatures(cell, org, compartment, adj) };
}

/** Neuroglancer skeleton file with radius and compartment (float32) vertex attributes. */
export function encodeAnnotatedSkeleton(sk: { vertices: Float32Array; edges: Uint32Array; radius: Float32Array }, comp: Uint8Array): Uint8Array {
  const nv = sk.vertices.length / 3;
  const ne = sk.edges.length / 2;
  const out = new Uint8Array(8 + nv * 12 + ne * 8 + nv * 8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, nv, true);
  dv.setUint32(4, ne, true);
  let o = 8;
  for (let i = 0; i < nv * 3; i++, o += 4) dv.setFloat32(o, sk.vertices[i], true);
  for (let i = 0; i < ne * 2; i++, o += 4) dv.setUint32(o, sk.edges[i], true);
  for (let i = 0; i < nv; i++, o += 4) dv.setFloat32(o, sk.radius[i] ?? 0, true);
  for (let i = 0; i < nv; i++, o += 4) dv.setFloat32(o, comp[i], true);
  return out;
}

export function annotatedSkeletonInfo(): Record<string, unknown> {
  return {
    '@type': 'neuroglancer_skeletons',
    transform: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
    vertex_attributes: [
      { id: 'radius', data_type: 'float32', num_components: 1 },
      { id: 'compartment', data_type: 'float32', num_components: 1 },
    ],
    wiring: { compartments: COMPARTMENTS },
  };
}

/** Defaults of `annotateDataset` (the CLI help reads them). */
export const ANNOTATE_DEFAULTS = {
  /** cells read, annotated and written together: memory follows this batch, not the store */
  batchCells: 256,
  /** annotated skeleton files written at once */
  writeConcurrency: 16,
} as const;

/** What annotateDataset hands to `writeTables`: node rows, cell rows, and each side of the synapse compartments. */
export type AnnotateWrite = 'skeleton_nodes' | 'cell_annotations' | 'synapse_pre' | 'synapse_post';

export interface AnnotateResult {
  cells: number;
  nodes: number;
  /** synapses whose pre (post) side was attached to a node of an annotated cell */
  synapse_sides: { pre: number; post: number };
  cell_types_written: number;
  skeleton_dir: string;
  compartment_nodes: Record<string, number>;
  batches: number;
  seconds: { load: number; annotate: number; write: number };
  /** with `truth`: node and synapse compartment scores */
  scores?: CompartmentScores;
}

/**
 * Annotate a dataset and write every output, `batchCells` cells at a time (their skeletons,
 * synapses and organelles read, annotated, node rows / synapse sides / annotated skeletons
 * written); what is kept across batches is per cell (its features and organelle row). The out_on_*
 * cell features need the partners' compartments, so cell rows and types are written at the end.
 * `cellTypeModel` also predicts and writes cell types; `truth` scores compartments batch by batch.
 */
export async function annotateDataset(
  src: SkeletonSource,
  store: ConnectomeStore,
  opts: AnnotateOptions & {
    cellTypeModel?: TrainedModel;
    ids?: bigint[];
    batchCells?: number;
    truth?: LabelSampler;
    writeTables?: (t: AnnotateWrite, rows: Record<string, unknown>[]) => Promise<void>;
    writeCellTypes?: (rows: Array<{ id: bigint; cell_type: string; classification_system: string }>) => Promise<number>;
  },
): Promise<AnnotateResult> {
  const seconds = { load: 0, annotate: 0, write: 0 };
  let t = Date.now();
  const lap = (k: keyof typeof seconds) => {
    const now = Date.now();
    seconds[k] += (now - t) / 1000;
    t = now;
  };
  const batch = opts.batchCells ?? ANNOTATE_DEFAULTS.batchCells;
  if (!(Number.isInteger(batch) && batch > 0)) throw new UsageError(`batch of ${batch} cells: expected a positive integer`);
  const ids = await skeletonIds(src, opts.ids);
  const base = src.layer ?? path.dirname(src.dir);
  const outDir = path.join(base, ANNOTATED_SKELETONS);
  await fs.mkdir(outDir, { recursive: true });
  const scorer = opts.truth ? new CompartmentScorer(opts.truth) : undefined;
  const features = new Map<bigint, Float32Array>();
  const organelleRows = new Map<bigint, ReturnType<typeof cellOrganelles>>();
  const targets = new Map<bigint, Float64Array>();
  const counts: Record<string, number> = Object.fromEntries(COMPARTMENTS.map((c) => [c, 0]));
  let nodes = 0, batches = 0;
  const sides = { pre: 0, post: 0 };
  lap('load');
  for (let b = 0; b < ids.length; b += batch) {
    batches++;
    const loaded = await loadCells(src, store, { ids: ids.slice(b, b + batch), checked: true });
    lap('load');
    const annotations = new Map<bigint, CellAnnotation>();
    for (const c of loaded.cells) annotations.set(c.id, annotateCell(c, opts));
    outputTargetCounts(loaded, annotations, targets);
    const nodeRows: Record<string, unknown>[] = [];
    const preRows: Record<string, unknown>[] = [];
    const postRows: Record<string, unknown>[] = [];
    for (const c of loaded.cells) {
      const a = annotations.get(c.id)!;
      const sk = c.skeleton;
      for (let i = 0; i < nodeCount(sk); i++) {
        counts[COMPARTMENTS[a.compartment[i]]]++;
        nodeRows.push({
          pt_root_id: c.id,
          node: i,
          x: sk.vertices[3 * i],
          y: sk.vertices[3 * i + 1],
          z: sk.vertices[3 * i + 2],
          radius: sk.radius[i],
          compartment: COMPARTMENTS[a.compartment[i]],
          compartment_probability: a.probability[i],
          mito_count: a.org.mitoCount[i],
          mito_volume: a.org.mitoVolume[i],
          vesicle_count: a.org.vesicleCount[i],
          vesicle_volume: a.org.vesicleVolume[i],
          syn_in: a.org.synIn[i],
          syn_out: a.org.synOut[i],
        });
      }
      features.set(c.id, a.cellFeatures);
      organelleRows.set(c.id, cellOrganelles(c));
      loaded.synInIds.get(c.id)!.forEach((sid, k) => {
        const node = a.org.attachIn[k];
        if (node >= 0) postRows.push({ synapse_id: sid, compartment: COMPARTMENTS[a.compartment[node]], node });
      });
      loaded.synOutIds.get(c.id)!.forEach((sid, k) => {
        const node = a.org.attachOut[k];
        if (node >= 0) preRows.push({ synapse_id: sid, compartment: COMPARTMENTS[a.compartment[node]], node });
      });
    }
    nodes += nodeRows.length;
    sides.pre += preRows.length;
    sides.post += postRows.length;
    if (scorer) await scorer.add(loaded, annotations);
    lap('annotate');
    if (opts.writeTables) {
      await opts.writeTables('skeleton_nodes', nodeRows);
      await opts.writeTables('synapse_pre', preRows);
      await opts.writeTables('synapse_post', postRows);
    }
    // skeletons with the compartment attribute, beside the originals (several at once: each
    // atomic write waits for its fsync)
    let next = 0;
    const writer = async () => {
      for (let k = next++; k < loaded.cells.length; k = next++) {
        const c = loaded.cells[k];
        await writeFileAtomic(path.join(outDir, `${c.id}`), encodeAnnotatedSkeleton(c.skeleton, annotations.get(c.id)!.compartment));
      }
    };
    await Promise.all(Array.from({ length: ANNOTATE_DEFAULTS.writeConcurrency }, writer));
    lap('write');
  }
  // cell features need every cell's compartments (out_on_*): complete them, then types and rows
  for (const [id, f] of features) setOutputTargets(f, targets.get(id));
  let types: { label: string[]; probability: Float32Array } | null = null;
  if (opts.cellTypeModel && ids.length) {
    const F = CELL_FEATURE_NAMES.length;
    const x = new Float32Array(ids.length * F);
    ids.forEach((id, i) => x.set(features.get(id)!, i * F));
    types = predict(opts.cellTypeModel, x, [...CELL_FEATURE_NAMES], (i) => `cell ${ids[i]}`);
  }
  lap('annotate');
  const system = opts.cellTypeModel ? `${opts.cellTypeModel.classification_system ?? 'labels'}:predicted` : undefined;
  let typesWritten = 0;
  for (let b = 0; b < ids.length; b += batch) {
    const part = ids.slice(b, b + batch);
    if (opts.writeTables) {
      await opts.writeTables('cell_annotations', part.map((id, k) => ({
        pt_root_id: id,
        ...organelleRows.get(id),
        cell_type: types?.label[b + k],
        cell_type_probability: types?.probability[b + k],
        classification_system: system,
      })));
    }
    if (types && opts.writeCellTypes) typesWritten += await opts.writeCellTypes(part.map((id, k) => ({ id, cell_type: types!.label[b + k], classification_system: system! })));
  }
  await writeJsonAtomic(path.join(outDir, 'info'), annotatedSkeletonInfo());
  if (src.layer && (opts.ids === undefined)) {
    const layer = await PrecomputedLayer.open(src.layer);
    const before = layer.info.skeletons as string;
    const prior = ((layer.info as unknown as Record<string, unknown>).wiring ?? {}) as Record<string, unknown>;
    if (before !== ANNOTATED_SKELETONS) await layer.updateInfo({ skeletons: ANNOTATED_SKELETONS, wiring: { ...prior, skeletons_source: before } } as never);
  }
  lap('write');
  return {
    cells: ids.length,
    nodes,
    synapse_sides: sides,
    cell_types_written: typesWritten,
    skeleton_dir: outDir,
    compartment_nodes: counts,
    batches,
    seconds,
    scores: scorer?.scores(),
  };
}
