import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { type Box, box as makeBox, boxToString, boxIntersect, boxIsEmpty } from '../../core/box.js';
import type { LabelArray } from '../../kernels/components.js';
import { ContingencyAccumulator, type SegmentationScores, evaluateSegmentation, scoresFromContingency } from '../../metrics/segmentation.js';
import { openSource } from '../../formats/open.js';
import type { VolumeSource } from '../../formats/source.js';
import { readSwc } from '../../formats/swc.js';
import { type ErlSkeleton, expectedRunLength } from '../../metrics/erl.js';
import { emit } from '../output.js';
import { parseXyzBounds } from '../xyz.js';

/** Voxels read at once by default (2^26: ~1.5 GB for two uint64 volumes and the relabelling). */
const DEFAULT_MAX_VOXELS = 1 << 26;

function maxVoxels(v: unknown): number {
  if (v === undefined) return DEFAULT_MAX_VOXELS;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--max-voxels: expected a whole number >= 1, got ${JSON.stringify(v)}`);
  return n;
}

/** `box` as one box when it holds at most `max` voxels, else as z slabs of whole sections of at most `max` voxels (at least one section each). */
export function evaluationSlabs(box: Box, max: number): Box[] {
  const [sx, sy, sz] = [box.max[0] - box.min[0], box.max[1] - box.min[1], box.max[2] - box.min[2]];
  if (sx * sy * sz <= max) return [box];
  const dz = Math.max(1, Math.floor(max / (sx * sy)));
  const out: Box[] = [];
  for (let z = box.min[2]; z < box.max[2]; z += dz) out.push(makeBox([box.min[0], box.min[1], z], [box.max[0], box.max[1], Math.min(z + dz, box.max[2])]));
  return out;
}

/** SWC files named by `spec`: a folder (every *.swc in it) or a comma-separated list of files. */
async function swcFiles(spec: string): Promise<string[]> {
  const { promises: fs } = await import('node:fs');
  const path = await import('node:path');
  const out: string[] = [];
  for (const part of spec.split(',').filter(Boolean)) {
    const st = await fs.stat(part).catch(() => undefined);
    if (!st) throw new UsageError(`--skeletons: ${part} does not exist`);
    if (st.isDirectory()) {
      const names = (await fs.readdir(part)).filter((n) => n.toLowerCase().endsWith('.swc')).sort();
      out.push(...names.map((n) => path.join(part, n)));
    } else out.push(part);
  }
  if (out.length === 0) throw new UsageError(`--skeletons ${spec}: no .swc files found`);
  return out;
}

/**
 * ERL of `seg` over true skeletons (SWC, nm, one neuron per file): the segment id at each node is
 * read at voxel floor(position / voxel size) of the segmentation's grid (0 outside it), in z slabs.
 */
async function erlOf(seg: VolumeSource, files: string[], scale: number, max: number): Promise<ReturnType<typeof expectedRunLength> & { nodes: number; nodes_outside: number }> {
  const graphs = await Promise.all(files.map((f) => readSwc(f, { scale })));
  const vs = seg.voxelSize;
  const sb = makeBox(seg.offset, [seg.offset[0] + seg.shape[0], seg.offset[1] + seg.shape[1], seg.offset[2] + seg.shape[2]]);
  const skels: ErlSkeleton[] = graphs.map((g) => ({ positions: Float64Array.from(g.vertices), edges: g.edges, segments: new Array<bigint>(g.vertices.length / 3).fill(0n) }));
  let nodes = 0, outside = 0;
  const at: Array<{ k: number; i: number; v: [number, number, number] }> = [];
  skels.forEach((s, k) => {
    for (let i = 0; i < s.segments.length; i++) {
      nodes++;
      const v: [number, number, number] = [0, 1, 2].map((a) => Math.floor(Number(s.positions[3 * i + a]) / vs[a])) as [number, number, number];
      if (v.some((c, a) => c < sb.min[a] || c >= sb.max[a])) outside++;
      else at.push({ k, i, v });
    }
  });
  for (const slab of evaluationSlabs(sb, max)) {
    const here = at.filter((p) => p.v[2] >= slab.min[2] && p.v[2] < slab.max[2]);
    if (here.length === 0) continue;
    const vol = await seg.read(slab);
    const [sx, sy] = [slab.max[0] - slab.min[0], slab.max[1] - slab.min[1]];
    const d = vol.data as ArrayLike<number | bigint>;
    for (const p of here) {
      const x = d[p.v[0] - slab.min[0] + sx * (p.v[1] - slab.min[1] + sy * (p.v[2] - slab.min[2]))];
      skels[p.k].segments[p.i] = BigInt(x);
    }
  }
  return { ...expectedRunLength(skels), nodes, nodes_outside: outside };
}

export function register(program: Command): Command {
  return program
    .command('evaluate')
    .description('score a segmentation against ground truth: VOI split/merge (bits, gt 0 ignored), adapted Rand error (CREMI/SNEMI3D and scikit-image conventions)')
    .argument('<seg>', 'segmentation (any readable label volume)')
    .argument('<gt>', 'ground truth labels (0 = unlabelled, ignored)')
    .option('--bounds <x0:x1,y0:y1,z0:z1>', 'score only inside this box (voxels); default the overlap of both volumes')
    .option('--max-voxels <n>', `voxels read at once; a larger box is scored in z slabs (default ${DEFAULT_MAX_VOXELS})`)
    .option('--skeletons <swc>', 'also the expected run length (ERL, nm) of <seg> over these true skeletons: a folder of SWC files (one neuron each, nm) or a comma-separated list')
    .option('--skeleton-scale <f>', 'multiply SWC coordinates by this to get nm (e.g. 8 for 8 nm voxel units)', '1')
    .option('--json', 'machine-readable output')
    .action(async (segSpec: string, gtSpec: string, opts) => {
      const region = opts.bounds ? parseXyzBounds(opts.bounds, '--bounds') : undefined;
      const [seg, gt] = await Promise.all([openSource(segSpec), openSource(gtSpec)]);
      try {
        for (const [s, spec] of [[seg, segSpec], [gt, gtSpec]] as const) {
          if (s.channels !== 1 || s.dtype === 'float32') throw new UsageError(`${spec}: expected a 1-channel integer label volume, got ${s.channels} x ${s.dtype}`);
        }
        const sb = { min: seg.offset, max: [seg.offset[0] + seg.shape[0], seg.offset[1] + seg.shape[1], seg.offset[2] + seg.shape[2]] as const };
        const gb = { min: gt.offset, max: [gt.offset[0] + gt.shape[0], gt.offset[1] + gt.shape[1], gt.offset[2] + gt.shape[2]] as const };
        const box = region ? boxIntersect(region, boxIntersect(sb, gb)) : boxIntersect(sb, gb);
        if (boxIsEmpty(box)) throw new UsageError(`${segSpec} (${boxToString(sb)}) and ${gtSpec} (${boxToString(gb)}) do not overlap`);
        let s: SegmentationScores;
        const slabs = evaluationSlabs(box, maxVoxels(opts.maxVoxels));
        if (slabs.length === 1) {
          const [sv, gv] = await Promise.all([seg.read(box), gt.read(box)]);
          s = evaluateSegmentation(sv.data as LabelArray, gv.data as LabelArray);
        } else {
          // a volume larger than one read: z slabs, their contingency tables summed (memory: one slab)
          const acc = new ContingencyAccumulator();
          for (const slab of slabs) {
            const [sv, gv] = await Promise.all([seg.read(slab), gt.read(slab)]);
            acc.add(sv.data as LabelArray, gv.data as LabelArray);
          }
          s = scoresFromContingency(acc.table());
        }
        let erl: Awaited<ReturnType<typeof erlOf>> | undefined;
        if (opts.skeletons) {
          const scale = Number(opts.skeletonScale);
          if (!(scale > 0)) throw new UsageError(`--skeleton-scale: expected a positive number, got ${JSON.stringify(opts.skeletonScale)}`);
          erl = await erlOf(seg, await swcFiles(String(opts.skeletons)), scale, maxVoxels(opts.maxVoxels));
        }
        const result = { ...s, ...(erl ? { erl } : {}), box: { min: box.min, max: box.max }, ...(slabs.length > 1 ? { slabs: slabs.length } : {}) };
        emit(opts, result, () =>
          [
            `VOI split ${s.voi_split.toFixed(4)}  merge ${s.voi_merge.toFixed(4)}  total ${(s.voi_split + s.voi_merge).toFixed(4)} (bits)`,
            `adapted Rand error ${s.arand.toFixed(4)} (CREMI/SNEMI3D), ${s.arand_skimage.toFixed(4)} (scikit-image)`,
            `${s.seg_segments} segments (${s.seg_segments_in_gt} inside the ground truth), ${s.gt_segments} ground-truth objects, ${s.voxels_evaluated} of ${s.voxels_total} voxels evaluated`,
            ...(erl ? [`ERL ${erl.erl.toFixed(1)} nm of ${erl.maxErl.toFixed(1)} possible (${erl.skeletons} skeletons, ${(erl.totalLength / 1000).toFixed(2)} um cable, ${erl.mergers} merging segments)`] : []),
          ].join('\n'),
        );
      } finally {
        await Promise.all([seg.close(), gt.close()]);
      }
    });
}
