/**
 * The phantom's block function (pure: one block from the model of its box) and the pieces the
 * command needs around it: the layers to create, the task, and the tables merged from the blocks'
 * data (rows keyed by id, so no thread ever needs the whole volume's model).
 */
import { type Box, type Vec3, boxFromShape, boxGrow, boxShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { gaussianFilter, gaussianMargin } from '../../kernels/filters.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import type { CellRow, OrganelleRow, SynapseRow } from '../../connectome/store.js';
import { CELL_TYPES, type CellType, type PhantomModel, type PhantomOptions, buildModel, hash4, rng } from './model.js';
import { rasterize } from './raster/index.js';

export interface PhantomParams extends PhantomOptions {
  /** Number of sections whose image is displaced in x/y (ground truth stays aligned). */
  shiftedSections?: number;
  /** Number of sections whose image is blank (0). */
  missingSections?: number;
  /** Largest displacement of a shifted section, voxels (default 8). */
  maxShift?: number;
  /** Amplitude of the additive noise, grey levels (default 30: triangular, std ~12). */
  noise?: number;
}

/** Output names of the task and the layer folder each goes to. */
export const PHANTOM_LAYERS = ['raw', 'neurons', 'compartments', 'mitochondria', 'vesicles', 'clefts'] as const;

/** Blur sigma in voxels [x, y, z]: ~5 nm in-plane (beam/optics), ~0.4 section across sections. */
export function blurSigma(voxelSize: Vec3): Vec3 {
  return [Math.max(0.45, 5 / voxelSize[0]), Math.max(0.45, 5 / voxelSize[1]), 0.4];
}

export interface SectionArtefacts {
  shift: Array<[number, number]>; // per z: [dx, dy] voxels
  missing: boolean[];
}

/** Which sections are shifted / missing: from the seed only (documented ground truth for alignment tests). */
export function sectionArtefacts(p: PhantomParams): SectionArtefacts {
  const nz = p.size[2];
  const shift: Array<[number, number]> = Array.from({ length: nz }, () => [0, 0]);
  const missing = new Array<boolean>(nz).fill(false);
  const r = rng((p.seed ^ 0xa47efac7) >>> 0);
  const maxShift = p.maxShift ?? 8;
  for (let k = 0; k < (p.shiftedSections ?? 0); k++) {
    const z = Math.floor(r() * nz);
    let dx = 0;
    let dy = 0;
    while (dx === 0 && dy === 0) {
      dx = Math.round((2 * r() - 1) * maxShift);
      dy = Math.round((2 * r() - 1) * maxShift);
    }
    shift[z] = [dx, dy];
  }
  for (let k = 0; k < (p.missingSections ?? 0); k++) missing[Math.floor(r() * nz)] = true;
  return { shift, missing };
}

/**
 * Per-block statistics sent back through the scheduler: one row per cell, synapse and organelle
 * with voxels in the block, keyed by id (decimal string) and carrying what the tables need, so
 * the tables are merged from the rows alone. Positions in nm.
 */
export interface PhantomBlockData {
  /** [cell id, voxels, type index (CELL_TYPES), squared distance (nm^2) of the cell's voxel closest to its soma centre, x, y, z of it (voxels)] */
  cells: Array<[string, number, number, number, number, number, number]>;
  /** [synapse id, cleft voxels, squared distance of the closest cleft voxel to the contact, x, y, z of it (voxels), pre id, post id, pre type index, pre point x, y, z, post point x, y, z] */
  synapses: Array<[string, number, number, number, number, number, string, string, number, number, number, number, number, number, number]>;
  /** [organelle id, voxels, kind (0 mitochondrion, 1 vesicle cloud), host cell id, centre x, y, z] */
  organelles: Array<[string, number, number, string, number, number, number]>;
  ecs: number;
  voxels: number;
}

function labelVolume(box: Box, voxelSize: Vec3, src: Int32Array, srcBox: Box, lo: Uint32Array | null, hi: Uint32Array | null, ids?: BigUint64Array): Volume<'uint64'> {
  const vol = Volume.zeros('uint64', box, { voxelSize });
  const words = new Uint32Array(vol.data.buffer, vol.data.byteOffset, vol.data.length * 2);
  const [sx, sy, sz] = boxShape(box);
  const [tx, ty] = boxShape(srcBox);
  let o = 0;
  for (let z = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      let i = box.min[0] - srcBox.min[0] + tx * (y + box.min[1] - srcBox.min[1] + ty * (z + box.min[2] - srcBox.min[2]));
      for (let x = 0; x < sx; x++, o++, i++) {
        const v = src[i];
        if (v < 0) continue;
        if (lo && hi) {
          words[2 * o] = lo[v];
          words[2 * o + 1] = hi[v];
        } else vol.data[o] = ids![v];
      }
    }
  }
  return vol;
}

const orgIdCache = new WeakMap<PhantomModel, { org: BigUint64Array; syn: BigUint64Array }>();
function idTables(m: PhantomModel) {
  let t = orgIdCache.get(m);
  if (!t) {
    t = { org: BigUint64Array.from(m.organelles.map((g) => g.id)), syn: BigUint64Array.from(m.synapses.map((s) => s.id)) };
    orgIdCache.set(m, t);
  }
  return t;
}

/**
 * Block function: every layer of the phantom over ctx.box. The image is rendered over the box
 * grown by the blur's reach (and the largest section shift), blurred, then cropped, so seams never show.
 */
export function phantomBlock(ctx: BlockContext<PhantomParams>): BlockResult {
  const p = ctx.params;
  const box = ctx.box;
  const vs = p.voxelSize;
  const sigma = blurSigma(vs);
  const art = sectionArtefacts(p);
  const maxShift = Math.max(0, ...art.shift.map(([dx, dy]) => Math.max(Math.abs(dx), Math.abs(dy))));
  const margin = gaussianMargin(sigma);
  const big = boxGrow(box, [margin[0] + maxShift, margin[1] + maxShift, margin[2]]);
  const m = buildModel(p, big);
  const f = rasterize(m, big, true);
  const shape = boxShape(big);
  const blurred = gaussianFilter(f.raw!, shape, sigma, 0, { mode: 'reflect' });

  // ---- raw: blurred image (shifted per section), plus per-voxel noise hashed from global coordinates
  const raw = Volume.zeros('uint8', box, { voxelSize: vs });
  const [sx, sy, sz] = boxShape(box);
  const amp = p.noise ?? 30;
  const seed = p.seed | 0;
  let o = 0;
  for (let z = box.min[2]; z < box.max[2]; z++) {
    const [dx, dy] = art.shift[z] ?? [0, 0];
    const missing = art.missing[z] ?? false;
    for (let y = box.min[1]; y < box.max[1]; y++) {
      const row = big.min[0] * -1 + dx + shape[0] * (y + dy - big.min[1] + shape[1] * (z - big.min[2]));
      for (let x = box.min[0]; x < box.max[0]; x++, o++) {
        if (missing) continue;
        const noise = (hash4(x, y, z, seed ^ 0x6e01) + hash4(z, x, y, seed ^ 0x6e02) - 1) * amp;
        const v = Math.round(blurred[row + x] + noise);
        raw.data[o] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }

  // ---- labels over the box
  const ids = idTables(m);
  const neurons = labelVolume(box, vs, f.cell, big, m.cellIdLo, m.cellIdHi);
  const mitochondria = labelVolume(box, vs, f.mito, big, null, null, ids.org);
  const vesicles = labelVolume(box, vs, f.cloud, big, null, null, ids.org);
  const clefts = labelVolume(box, vs, f.cleft, big, null, null, ids.syn);
  const compartments = Volume.zeros('uint8', box, { voxelSize: vs });

  // ---- statistics of this block
  const cellCount = new Float64Array(m.cells.length);
  // The cell's anchor (pt_position): its voxel closest to the soma centre, so that (as in CAVE)
  // the point lies inside the cell in the volume even when the soma is outside it.
  const cellBest = new Float64Array(m.cells.length).fill(Infinity);
  const cellAt = new Int32Array(3 * m.cells.length);
  const orgCount = new Float64Array(m.organelles.length);
  const synCount = new Float64Array(m.synapses.length);
  const synBest = new Float64Array(m.synapses.length).fill(Infinity);
  const synAt = new Int32Array(3 * m.synapses.length);
  let ecs = 0;
  o = 0;
  for (let z = box.min[2]; z < box.max[2]; z++) {
    for (let y = box.min[1]; y < box.max[1]; y++) {
      let i = box.min[0] - big.min[0] + shape[0] * (y - big.min[1] + shape[1] * (z - big.min[2]));
      for (let x = box.min[0]; x < box.max[0]; x++, o++, i++) {
        compartments.data[o] = f.comp[i];
        const c = f.cell[i];
        if (c < 0) ecs++;
        else {
          cellCount[c]++;
          const soma = m.cells[c].soma;
          const d = ((x + 0.5) * vs[0] - soma[0]) ** 2 + ((y + 0.5) * vs[1] - soma[1]) ** 2 + ((z + 0.5) * vs[2] - soma[2]) ** 2;
          if (d < cellBest[c]) {
            cellBest[c] = d;
            cellAt[3 * c] = x;
            cellAt[3 * c + 1] = y;
            cellAt[3 * c + 2] = z;
          }
        }
        if (f.mito[i] >= 0) orgCount[f.mito[i]]++;
        if (f.cloud[i] >= 0) orgCount[f.cloud[i]]++;
        const s = f.cleft[i];
        if (s >= 0) {
          synCount[s]++;
          const q = m.synContact;
          const d = ((x + 0.5) * vs[0] - q[3 * s]) ** 2 + ((y + 0.5) * vs[1] - q[3 * s + 1]) ** 2 + ((z + 0.5) * vs[2] - q[3 * s + 2]) ** 2;
          if (d < synBest[s]) {
            synBest[s] = d;
            synAt[3 * s] = x;
            synAt[3 * s + 1] = y;
            synAt[3 * s + 2] = z;
          }
        }
      }
    }
  }
  const data: PhantomBlockData = { cells: [], synapses: [], organelles: [], ecs, voxels: sx * sy * sz };
  const typeIndex = (t: CellType) => CELL_TYPES.indexOf(t);
  cellCount.forEach((n, i) => {
    if (n > 0) {
      const c = m.cells[i];
      data.cells.push([c.id.toString(), n, typeIndex(c.type), cellBest[i], cellAt[3 * i], cellAt[3 * i + 1], cellAt[3 * i + 2]]);
    }
  });
  orgCount.forEach((n, i) => {
    if (n > 0) {
      const g = m.organelles[i];
      data.organelles.push([g.id.toString(), n, g.kind === 'mitochondrion' ? 0 : 1, m.cells[g.host].id.toString(), (g.a[0] + g.b[0]) / 2, (g.a[1] + g.b[1]) / 2, (g.a[2] + g.b[2]) / 2]);
    }
  });
  synCount.forEach((n, i) => {
    if (n > 0) {
      const s = m.synapses[i];
      data.synapses.push([
        s.id.toString(), n, synBest[i], synAt[3 * i], synAt[3 * i + 1], synAt[3 * i + 2],
        m.cells[s.pre].id.toString(), m.cells[s.post].id.toString(), typeIndex(m.cells[s.pre].type),
        s.prePoint[0], s.prePoint[1], s.prePoint[2], s.postPoint[0], s.postPoint[1], s.postPoint[2],
      ]);
    }
  });
  return { volumes: { raw, neurons, compartments, mitochondria, vesicles, clefts }, data };
}

/** The scheduler task that writes every layer under `datasetDir`. */
export function phantomTask(datasetDir: string, params: PhantomParams, blockShape: Vec3, join: (a: string, b: string) => string): BlockTask<PhantomParams> {
  const outputs: Record<string, { layer: string }> = {};
  for (const l of PHANTOM_LAYERS) outputs[l] = { layer: join(datasetDir, l) };
  const vs = params.voxelSize;
  // memory: the grown box's fields (~30 bytes per voxel) plus outputs
  const [bx, by, bz] = blockShape;
  const memoryPerBlock = (bx + 24) * (by + 24) * (bz + 4) * 30 + bx * by * bz * 34;
  return {
    name: 'phantom',
    module: import.meta.url,
    fn: 'phantomBlock',
    params: { ...params, voxelSize: [vs[0], vs[1], vs[2]] },
    outputs,
    bounds: boxFromShape(params.size),
    blockShape,
    memoryPerBlock,
  };
}

export interface PhantomTables {
  cells: CellRow[];
  synapses: SynapseRow[];
  organelles: OrganelleRow[];
  ecsVoxels: number;
  voxels: number;
}

/** How far from the cleft centre the table's pre/post partner points lie (nm). */
export const PARTNER_OFFSET_NM = 60;

/**
 * Merge the blocks' data into table rows, by id, in id order (so the result does not depend on
 * the blocks' shape or order). Synapses: those with at least one cleft voxel, size = cleft
 * voxels, ctr_pt = the cleft voxel closest to the contact centre (ties: first in z, y, x order),
 * pre_pt / post_pt = PARTNER_OFFSET_NM from ctr_pt towards the bouton centre / the point inside
 * the target. Cells: those with at least one voxel.
 */
export function buildTables(p: PhantomParams, blocks: Array<{ data: unknown }>): PhantomTables {
  const vs = p.voxelSize;
  type CellAcc = { n: number; best: number; at: [number, number, number]; row: PhantomBlockData['cells'][number] };
  type SynAcc = { n: number; best: number; at: [number, number, number]; row: PhantomBlockData['synapses'][number] };
  type OrgAcc = { n: number; row: PhantomBlockData['organelles'][number] };
  const cellAcc = new Map<string, CellAcc>();
  const synAcc = new Map<string, SynAcc>();
  const orgAcc = new Map<string, OrgAcc>();
  let ecs = 0;
  let voxels = 0;
  const before = (a: readonly number[], b: readonly number[]) => a[2] < b[2] || (a[2] === b[2] && (a[1] < b[1] || (a[1] === b[1] && a[0] < b[0])));
  for (const { data } of blocks) {
    const d = data as PhantomBlockData;
    ecs += d.ecs;
    voxels += d.voxels;
    for (const row of d.cells) {
      const [id, n, , best, x, y, z] = row;
      const acc = cellAcc.get(id);
      if (!acc) cellAcc.set(id, { n, best, at: [x, y, z], row });
      else {
        acc.n += n;
        if (best < acc.best || (best === acc.best && before([x, y, z], acc.at))) {
          acc.best = best;
          acc.at = [x, y, z];
        }
      }
    }
    for (const row of d.organelles) {
      const acc = orgAcc.get(row[0]);
      if (acc) acc.n += row[1];
      else orgAcc.set(row[0], { n: row[1], row });
    }
    for (const row of d.synapses) {
      const [id, n, best, x, y, z] = row;
      const acc = synAcc.get(id);
      if (!acc) synAcc.set(id, { n, best, at: [x, y, z], row });
      else {
        acc.n += n;
        if (best < acc.best || (best === acc.best && before([x, y, z], acc.at))) {
          acc.best = best;
          acc.at = [x, y, z];
        }
      }
    }
  }
  const byId = <T>(m: Map<string, T>): Array<[bigint, T]> =>
    [...m].map(([k, v]) => [BigInt(k), v] as [bigint, T]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const r3 = (v: readonly number[]): Vec3 => [Math.round(v[0] * 100) / 100, Math.round(v[1] * 100) / 100, Math.round(v[2] * 100) / 100];
  const cells: CellRow[] = byId(cellAcc).map(([id, { n, at, row }]) => ({
    id,
    // the centre of the cell's voxel closest to its soma (nm)
    pt_position: [(at[0] + 0.5) * vs[0], (at[1] + 0.5) * vs[1], (at[2] + 0.5) * vs[2]],
    cell_type: CELL_TYPES[row[2]],
    classification_system: 'phantom',
    volume: n * vs[0] * vs[1] * vs[2],
  }));
  // Partner points as CAVE and CREMI place them: just inside each partner, beside the cleft
  // (PARTNER_OFFSET_NM from the cleft centre towards the bouton centre / into the target), so
  // scores match detections by where the synapse is, not by the centres of bouton and spine.
  const towards = (from: Vec3, to: readonly number[]): Vec3 => {
    const d = [to[0] - from[0], to[1] - from[1], to[2] - from[2]];
    const len = Math.hypot(d[0], d[1], d[2]);
    const k = len > 0 ? Math.min(PARTNER_OFFSET_NM, len) / len : 0;
    return [from[0] + d[0] * k, from[1] + d[1] * k, from[2] + d[2] * k];
  };
  const synapses: SynapseRow[] = byId(synAcc).map(([id, { n, at, row }]) => {
    const ctr: Vec3 = [(at[0] + 0.5) * vs[0], (at[1] + 0.5) * vs[1], (at[2] + 0.5) * vs[2]];
    return {
      id,
      pre_pt_root_id: BigInt(row[6]),
      post_pt_root_id: BigInt(row[7]),
      pre_pt_position: r3(towards(ctr, [row[9], row[10], row[11]])),
      post_pt_position: r3(towards(ctr, [row[12], row[13], row[14]])),
      ctr_pt_position: ctr,
      size: n,
      synapse_type: CELL_TYPES[row[8]] === 'basket' ? 'inhibitory' : 'excitatory',
    };
  });
  const organelles: OrganelleRow[] = byId(orgAcc).map(([id, { n, row }]) => ({
    id,
    kind: row[2] === 0 ? 'mitochondrion' : 'vesicle_cloud',
    pt_position: r3([row[4], row[5], row[6]]),
    size: n,
    host_root_id: BigInt(row[3]),
  }));
  return { cells, synapses, organelles, ecsVoxels: ecs, voxels };
}
