import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { type Box, box as makeBox, boxToString, boxIntersect, boxIsEmpty } from '../../core/box.js';
import type { LabelArray } from '../../kernels/components.js';
import { ContingencyAccumulator, type SegmentationScores, evaluateSegmentation, scoresFromContingency } from '../../metrics/segmentation.js';
import { openSource } from '../../formats/open.js';
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

export function register(program: Command): Command {
  return program
    .command('evaluate')
    .description('score a segmentation against ground truth: VOI split/merge (bits, gt 0 ignored), adapted Rand error (CREMI/SNEMI3D and scikit-image conventions)')
    .argument('<seg>', 'segmentation (any readable label volume)')
    .argument('<gt>', 'ground truth labels (0 = unlabelled, ignored)')
    .option('--bounds <x0:x1,y0:y1,z0:z1>', 'score only inside this box (voxels); default the overlap of both volumes')
    .option('--max-voxels <n>', `voxels read at once; a larger box is scored in z slabs (default ${DEFAULT_MAX_VOXELS})`)
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
        const result = { ...s, box: { min: box.min, max: box.max }, ...(slabs.length > 1 ? { slabs: slabs.length } : {}) };
        emit(opts, result, () =>
          [
            `VOI split ${s.voi_split.toFixed(4)}  merge ${s.voi_merge.toFixed(4)}  total ${(s.voi_split + s.voi_merge).toFixed(4)} (bits)`,
            `adapted Rand error ${s.arand.toFixed(4)} (CREMI/SNEMI3D), ${s.arand_skimage.toFixed(4)} (scikit-image)`,
            `${s.seg_segments} segments (${s.seg_segments_in_gt} inside the ground truth), ${s.gt_segments} ground-truth objects, ${s.voxels_evaluated} of ${s.voxels_total} voxels evaluated`,
          ].join('\n'),
        );
      } finally {
        await Promise.all([seg.close(), gt.close()]);
      }
    });
}
