import { type Box, type Vec3 } from '../../core/box.js';
import { UsageError, WiringError } from '../../core/errors.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import type { ConnectomeStore } from '../../connectome/store.js';
import { type DetectedOrganelle, type DetectedSynapse, type SynapseParams, detectOrganelles, detectSynapses } from './detect.js';
import { WINDOW_NM } from './contact-features.js';

/**
 * Block function and task of `wiring synapses`: cleft objects + partners (and organelle
 * objects) per block, returned as block data (rows in CAVE columns, ids exact); the command
 * collects every block's rows with readBlockData and writes them to the connectome store.
 */

export interface SynapseTaskParams extends SynapseParams {
  /** Organelle maps present as inputs, with their thresholds and size filters. */
  organelles?: { input: 'mitochondria' | 'vesicles'; kind: 'mitochondrion' | 'vesicle_cloud'; threshold: number; lowThreshold?: number; minSize: number; split?: number; splitMinSeed?: number }[];
}

export interface SynapseBlockData {
  synapses: DetectedSynapse[];
  organelles: DetectedOrganelle[];
  dropped: { small: number; noPartners: number; filtered?: number };
  truncated: number;
}

/** Block function: ctx.inputs clefts, segmentation, optional vesicles / mitochondria / supervoxels. */
export function synapseBlock(ctx: BlockContext<SynapseTaskParams>): BlockResult {
  const { clefts, segmentation, vesicles, supervoxels, filterVesicles } = ctx.inputs;
  if (!clefts || !segmentation) throw new UsageError('the synapse block needs inputs "clefts" and "segmentation"');
  const r = detectSynapses({ clefts, segmentation, vesicles, supervoxels, filterVesicles }, ctx.box, ctx.params);
  const organelles: DetectedOrganelle[] = [];
  let truncated = r.truncated;
  for (const o of ctx.params.organelles ?? []) {
    const map = ctx.inputs[o.input];
    if (!map) throw new UsageError(`organelle input ${o.input} is missing`);
    const d = detectOrganelles(map, segmentation, ctx.box, { ...ctx.params, threshold: o.threshold, lowThreshold: o.lowThreshold, minSize: o.minSize, split: o.split, splitMinSeed: o.splitMinSeed, kind: o.kind });
    organelles.push(...d.organelles);
    truncated += d.truncated;
  }
  const data: SynapseBlockData = { synapses: r.synapses, organelles, dropped: r.dropped, truncated };
  return { data };
}

/**
 * Default block shape of the synapse stage, voxels. A block reads its margin (the search radii +
 * 16 voxels: 35,35,22 at 8x8x30 nm) on every side, so 128,128,64 blocks read 2.7x their voxels
 * and cut 78 objects at their margins on the 512x512x128 phantom; 256,256,64 reads 1.7x, cuts 33,
 * and finds what one whole-volume block finds on the 256x256x64 phantom (chosen there, measured on
 * the 512x512x128 one: 16.3 -> 9.5 CPU s; docs/THROUGHPUT.md, "Skeletons, synapses, cells: third pass").
 */
export const SYNAPSE_BLOCK: Vec3 = [256, 256, 64];

export interface SynapseTaskOptions {
  name?: string;
  clefts: string;
  segmentation: string;
  vesicles?: string;
  mitochondria?: string;
  supervoxels?: string;
  /** The vesicle map the cleft filter reads when `vesicles` is not given. */
  filterVesicles?: string;
  params: SynapseTaskParams;
  /** Block shape, voxels (default SYNAPSE_BLOCK clipped to the bounds). */
  blockShape?: Vec3;
  /** Context around each block, voxels: must hold a whole cleft plus the search radii (default from the radii + 16). */
  margin?: Vec3;
}

/**
 * The default margin: the vesicle/partner search radius in voxels plus room for a cleft; with a
 * cleft filter on contact sites, at least a whole site (its patch) plus the window its features read.
 */
export function defaultMargin(p: SynapseParams): Vec3 {
  const R = Math.max(p.partnerRadius, p.vesicleRadius ?? p.partnerRadius * 4);
  const patch = p.cleftFilter?.candidates.patchNm;
  return [0, 1, 2].map((a) => Math.max(Math.ceil(R / p.voxelSize[a]) + 16, patch !== undefined ? Math.ceil((patch + WINDOW_NM) / p.voxelSize[a]) + 2 : 0)) as unknown as Vec3;
}

export function synapseTask(o: SynapseTaskOptions): BlockTask<SynapseTaskParams> {
  const inputs: Record<string, string> = { clefts: o.clefts, segmentation: o.segmentation };
  if (o.vesicles) inputs.vesicles = o.vesicles;
  if (o.mitochondria) inputs.mitochondria = o.mitochondria;
  if (o.supervoxels) inputs.supervoxels = o.supervoxels;
  if (o.filterVesicles && !o.vesicles) inputs.filterVesicles = o.filterVesicles;
  const b: Box = o.params.bounds;
  const size = [0, 1, 2].map((a) => b.max[a] - b.min[a]);
  const blockShape = (o.blockShape ?? SYNAPSE_BLOCK).map((v, a) => Math.max(1, Math.min(v, size[a]))) as unknown as Vec3;
  return {
    name: o.name ?? 'synapses',
    module: import.meta.url,
    fn: 'synapseBlock',
    params: o.params,
    inputs,
    bounds: b,
    blockShape,
    margin: o.margin ?? defaultMargin(o.params),
  };
}

/** Merge the block data of a run (block order) into one list of synapses and organelles. */
export function mergeBlockData(blocks: { data?: unknown }[]): SynapseBlockData {
  const out: SynapseBlockData = { synapses: [], organelles: [], dropped: { small: 0, noPartners: 0 }, truncated: 0 };
  for (const [i, b] of blocks.entries()) {
    const d = b.data as SynapseBlockData | undefined;
    if (!d) throw new WiringError(`synapse block ${i} has no data (its record was not written by the synapses task)`);
    out.synapses.push(...d.synapses);
    out.organelles.push(...d.organelles);
    out.dropped.small += d.dropped.small;
    out.dropped.noPartners += d.dropped.noPartners;
    if (d.dropped.filtered !== undefined) out.dropped.filtered = (out.dropped.filtered ?? 0) + d.dropped.filtered;
    out.truncated += d.truncated;
  }
  out.synapses.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  out.organelles.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

/** Write detected synapses and organelles to the connectome store, in one transaction. */
export async function storeDetections(store: ConnectomeStore, d: SynapseBlockData): Promise<void> {
  await store.transaction(async () => {
    await store.insertSynapses(d.synapses.map((s) => ({ ...s })));
    await store.insertOrganelles(d.organelles.map((o) => ({ ...o })));
  });
}
