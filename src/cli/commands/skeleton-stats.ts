import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { listSkeletons, readSkeleton } from '../../formats/mesh/skeleton.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { readSwc, swcRoots } from '../../formats/swc.js';
import type { Vec3 } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { type Graph, nearestVertex, skeletonStats, splitAxonDendrite } from '../../stages/morphology/stats.js';
import { emit } from '../output.js';

export interface SkeletonStatsRow {
  id: string;
  nodes: number;
  cable_length_nm: number;
  branch_points: number;
  end_points: number;
  strahler_order: number;
  components: number;
  /** With --synapses: synapses attached to the nearest vertex, axon/dendrite split by flow centrality. */
  synapses?: { pre: number; post: number; segregation_index: number; axon: { pre: number; post: number }; dendrite: { pre: number; post: number } };
}

/**
 * Read a per-neuron synapse CSV (header with `type` = pre/post and `x`, `y`, `z`; e.g. the
 * hemibrain/navis export). Coordinates are multiplied by `scale` to get nm.
 */
export async function readSynapseCsv(file: string, scale: number): Promise<Array<{ pre: boolean; p: Vec3 }>> {
  const lines = (await fs.readFile(file, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new FormatError('empty file, expected a header with type,x,y,z', file);
  const head = lines[0].split(',').map((h) => h.trim().toLowerCase());
  const col = (n: string) => {
    const i = head.indexOf(n);
    if (i < 0) throw new FormatError(`header has no "${n}" column (expected type, x, y, z)`, file);
    return i;
  };
  const [ti, xi, yi, zi] = ['type', 'x', 'y', 'z'].map(col);
  return lines.slice(1).map((l, k) => {
    const w = l.split(',');
    const t = (w[ti] ?? '').trim().toLowerCase();
    if (t !== 'pre' && t !== 'post') throw new FormatError(`row ${k + 2}: type ${JSON.stringify(w[ti])}, expected pre or post`, file);
    const p = [w[xi], w[yi], w[zi]].map((v) => Number(v) * scale);
    if (p.some((v) => !Number.isFinite(v))) throw new FormatError(`row ${k + 2}: x, y, z must be numbers`, file);
    return { pre: t === 'pre', p: p as unknown as Vec3 };
  });
}

function swcRootsOf(g: Graph): number[] {
  return 'types' in g ? swcRoots(g as Parameters<typeof swcRoots>[0]) : [];
}

function synapseSplit(g: Graph, syn: Array<{ pre: boolean; p: Vec3 }>): NonNullable<SkeletonStatsRow['synapses']> {
  const near = nearestVertex(g, syn.map((s) => s.p));
  const nv = g.vertices.length / 3;
  const pre = new Float64Array(nv);
  const post = new Float64Array(nv);
  syn.forEach((s, i) => {
    if (near[i] >= 0) (s.pre ? pre : post)[near[i]]++;
  });
  const split = splitAxonDendrite(g, pre, post, swcRootsOf(g));
  return {
    pre: syn.filter((s) => s.pre).length,
    post: syn.filter((s) => !s.pre).length,
    segregation_index: +split.segregation_index.toFixed(4),
    axon: { pre: split.axon.pre, post: split.axon.post },
    dendrite: { pre: split.dendrite.pre, post: split.dendrite.post },
  };
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

export async function skeletonStatsOf(inputs: string[], opts: { swcScale?: number; synapses?: string } = {}): Promise<SkeletonStatsRow[]> {
  const rows = await statsRows(inputs, opts);
  if (opts.synapses) {
    for (const r of rows) {
      const file = path.join(opts.synapses, `${r.id}.csv`);
      const exists = await fs.stat(file).then(() => true, () => false);
      if (!exists) continue;
      const g = graphs.get(r);
      if (g) r.synapses = synapseSplit(g, await readSynapseCsv(file, opts.swcScale ?? 1));
    }
  }
  return rows;
}

const graphs = new WeakMap<SkeletonStatsRow, Graph>();

async function statsRows(inputs: string[], opts: { swcScale?: number }): Promise<SkeletonStatsRow[]> {
  const rows: SkeletonStatsRow[] = [];
  for (const input of inputs) {
    const st = await fs.stat(input).catch(() => undefined);
    if (!st) throw new UsageError(`${input}: no such file or folder`);
    if (st.isDirectory()) {
      const dir = await skeletonDir(input);
      if (dir) {
        for (const id of await listSkeletons(dir)) {
          const s = await readSkeleton(dir, id);
          const row: SkeletonStatsRow = { id: id.toString(), ...pick(skeletonStats(s)) };
          graphs.set(row, s);
          rows.push(row);
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
  const row: SkeletonStatsRow = { id: path.basename(file).replace(/\.swc$/i, ''), ...pick(skeletonStats(g, swcRoots(g))) };
  graphs.set(row, g);
  return row;
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
    .option('--synapses <dir>', 'folder of <id>.csv synapse tables (type pre/post, x, y, z in the SWC units): attach to the nearest vertex, split axon/dendrite by flow centrality, report the segregation index')
    .option('--json', 'machine-readable output')
    .action(async (inputs: string[], opts) => {
      const swcScale = Number(opts.swcScale);
      if (!(swcScale > 0)) throw new UsageError(`--swc-scale ${opts.swcScale}: expected a positive number`);
      const rows = await skeletonStatsOf(inputs, { swcScale, synapses: opts.synapses });
      emit(opts, rows, () =>
        [
          'id\tnodes\tcable_length_nm\tbranch_points\tend_points\tstrahler' + (opts.synapses ? '\tpre\tpost\tsegregation_index' : ''),
          ...rows.map(
            (r) =>
              `${r.id}\t${r.nodes}\t${r.cable_length_nm.toFixed(1)}\t${r.branch_points}\t${r.end_points}\t${r.strahler_order}` +
              (opts.synapses ? (r.synapses ? `\t${r.synapses.pre}\t${r.synapses.post}\t${r.synapses.segregation_index}` : '\t-\t-\t-') : ''),
          ),
        ].join('\n'),
      );
    });
}
