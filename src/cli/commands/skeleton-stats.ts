import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { listSkeletons, readSkeleton } from '../../formats/mesh/skeleton.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { readSwc } from '../../formats/swc.js';
import { skeletonStats } from '../../stages/morphology/stats.js';
import { emit } from '../output.js';

export interface SkeletonStatsRow {
  id: string;
  nodes: number;
  cable_length_nm: number;
  branch_points: number;
  end_points: number;
  strahler_order: number;
  components: number;
}

/** Skeleton folders of an input: a layer (its info's `skeletons`), or a neuroglancer_skeletons folder. */
async function skeletonDir(input: string): Promise<string | undefined> {
  const info = path.join(input, 'info');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await fs.readFile(info, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (raw['@type'] === 'neuroglancer_skeletons') return input;
  const layer = await PrecomputedLayer.open(input);
  const sk = layer.info.skeletons;
  if (typeof sk !== 'string') throw new UsageError(`${info} has no "skeletons" key: run \`wiring skeletonize ${input}\` first`);
  return path.join(input, sk);
}

export async function skeletonStatsOf(inputs: string[], opts: { swcScale?: number } = {}): Promise<SkeletonStatsRow[]> {
  const rows: SkeletonStatsRow[] = [];
  for (const input of inputs) {
    const st = await fs.stat(input).catch(() => undefined);
    if (!st) throw new UsageError(`${input}: no such file or folder`);
    if (st.isDirectory()) {
      const dir = await skeletonDir(input);
      if (dir) {
        for (const id of await listSkeletons(dir)) {
          const s = await readSkeleton(dir, id);
          rows.push({ id: id.toString(), ...pick(skeletonStats(s)) });
        }
        continue;
      }
      const files = (await fs.readdir(input)).filter((f) => f.toLowerCase().endsWith('.swc')).sort();
      if (files.length === 0) throw new UsageError(`${input}: neither a layer with skeletons nor a folder of .swc files`);
      for (const f of files) rows.push(await swcRow(path.join(input, f), opts.swcScale));
    } else rows.push(await swcRow(input, opts.swcScale));
  }
  return rows;
}

async function swcRow(file: string, scale?: number): Promise<SkeletonStatsRow> {
  const g = await readSwc(file, { scale });
  return { id: path.basename(file).replace(/\.swc$/i, ''), ...pick(skeletonStats(g, 0)) };
}

function pick(s: ReturnType<typeof skeletonStats>): Omit<SkeletonStatsRow, 'id'> {
  return {
    nodes: s.nodes,
    cable_length_nm: +s.cable_length_nm.toFixed(3),
    branch_points: s.branch_points,
    end_points: s.end_points,
    strahler_order: s.strahler_order,
    components: s.components,
  };
}

export function register(program: Command): Command {
  return program
    .command('skeleton-stats')
    .description('per-skeleton statistics (nodes, cable length, branch and end points, Strahler order) of SWC files, folders of them, or a layer with skeletons')
    .argument('<inputs...>', 'SWC files, folders of SWC files, segmentation layers (with skeletons) or skeleton folders')
    .option('--swc-scale <s>', 'multiply SWC coordinates by this to get nm (e.g. 8 for hemibrain voxel units)', '1')
    .option('--json', 'machine-readable output')
    .action(async (inputs: string[], opts) => {
      const swcScale = Number(opts.swcScale);
      if (!(swcScale > 0)) throw new UsageError(`--swc-scale ${opts.swcScale}: expected a positive number`);
      const rows = await skeletonStatsOf(inputs, { swcScale });
      emit(opts, rows, () =>
        ['id\tnodes\tcable_length_nm\tbranch_points\tend_points\tstrahler', ...rows.map((r) => `${r.id}\t${r.nodes}\t${r.cable_length_nm.toFixed(1)}\t${r.branch_points}\t${r.end_points}\t${r.strahler_order}`)].join('\n'),
      );
    });
}
