/**
 * Organelles and synapses on one cell's skeleton: each synapse and organelle is attached to its
 * nearest skeleton node; per node, the mitochondria and vesicle clouds (count, volume nm^3) and
 * synapses (in, out) whose anchors lie within `radiusNm`; per cell, totals and densities per µm of
 * cable and per µm^3 of cell volume.
 */
import { PointGrid } from '../../kernels/point-grid.js';
import { type Skeleton, nodeCount } from './tree.js';

/** Points (nm, x,y,z per point) with a size each (organelles: nm^3; synapses: voxels). */
export interface Points {
  positions: Float64Array;
  size: Float64Array;
}

export const EMPTY_POINTS: Points = { positions: new Float64Array(0), size: new Float64Array(0) };

/** Everything the annotate stage knows about one cell. */
export interface CellInput {
  id: bigint;
  skeleton: Skeleton;
  /** input synapses: the post point on this cell; output synapses: the pre point. */
  synIn: Points;
  synOut: Points;
  mito: Points;
  vesicle: Points;
  /** cell volume, nm^3 (from the cells table), if known */
  volume?: number;
}

export interface NodeOrganelles {
  /** within radiusNm of the node */
  mitoCount: Float32Array;
  mitoVolume: Float32Array;
  vesicleCount: Float32Array;
  vesicleVolume: Float32Array;
  synInNear: Float32Array;
  synOutNear: Float32Array;
  /** attached (nearest-node) counts: every synapse counted at one node */
  synIn: Float32Array;
  synOut: Float32Array;
  /** nearest node of each input synapse / output synapse / mitochondrion / vesicle cloud */
  attachIn: Int32Array;
  attachOut: Int32Array;
  attachMito: Int32Array;
  attachVesicle: Int32Array;
}

export interface CellOrganelles {
  cable_length_um: number;
  volume_um3: number;
  mito_count: number;
  mito_volume_um3: number;
  vesicle_count: number;
  vesicle_volume_um3: number;
  syn_in: number;
  syn_out: number;
  mito_per_um: number;
  vesicle_per_um: number;
  syn_in_per_um: number;
  syn_out_per_um: number;
  mito_volume_fraction: number;
  syn_in_per_um3: number;
  syn_out_per_um3: number;
}

export const ORGANELLE_DEFAULTS = {
  /** radius (nm) around each skeleton node in which organelles and synapses are counted */
  radiusNm: 1000,
};

function attach(grid: PointGrid, p: Points): Int32Array {
  const n = p.positions.length / 3;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = grid.nearest(p.positions[3 * i], p.positions[3 * i + 1], p.positions[3 * i + 2]);
  return out;
}

function near(sk: Skeleton, p: Points, r: number, count: Float32Array, volume?: Float32Array): void {
  const n = p.positions.length / 3;
  if (n === 0) return;
  const grid = new PointGrid(p.positions, { cell: Math.max(r, 1) });
  const v = sk.vertices;
  const hits: number[] = [];
  for (let i = 0; i < count.length; i++) {
    grid.within(v[3 * i], v[3 * i + 1], v[3 * i + 2], r, hits);
    count[i] = hits.length;
    if (volume) {
      let s = 0;
      for (const h of hits) s += p.size[h];
      volume[i] = s;
    }
  }
}

/** Per-node organelle and synapse counts of one cell. */
export function nodeOrganelles(cell: CellInput, radiusNm = ORGANELLE_DEFAULTS.radiusNm): NodeOrganelles {
  if (!(radiusNm > 0)) throw new RangeError(`organelle radius must be > 0 nm, got ${radiusNm}`);
  const sk = cell.skeleton;
  const n = nodeCount(sk);
  const f = () => new Float32Array(n);
  const out: NodeOrganelles = {
    mitoCount: f(),
    mitoVolume: f(),
    vesicleCount: f(),
    vesicleVolume: f(),
    synInNear: f(),
    synOutNear: f(),
    synIn: f(),
    synOut: f(),
    attachIn: new Int32Array(0),
    attachOut: new Int32Array(0),
    attachMito: new Int32Array(0),
    attachVesicle: new Int32Array(0),
  };
  near(sk, cell.mito, radiusNm, out.mitoCount, out.mitoVolume);
  near(sk, cell.vesicle, radiusNm, out.vesicleCount, out.vesicleVolume);
  near(sk, cell.synIn, radiusNm, out.synInNear);
  near(sk, cell.synOut, radiusNm, out.synOutNear);
  if (n > 0) {
    const grid = new PointGrid(sk.vertices, { cell: meanEdge(sk) * 4 });
    out.attachIn = attach(grid, cell.synIn);
    out.attachOut = attach(grid, cell.synOut);
    out.attachMito = attach(grid, cell.mito);
    out.attachVesicle = attach(grid, cell.vesicle);
    for (const a of out.attachIn) out.synIn[a]++;
    for (const a of out.attachOut) out.synOut[a]++;
  } else {
    out.attachIn = new Int32Array(cell.synIn.size.length).fill(-1);
    out.attachOut = new Int32Array(cell.synOut.size.length).fill(-1);
    out.attachMito = new Int32Array(cell.mito.size.length).fill(-1);
    out.attachVesicle = new Int32Array(cell.vesicle.size.length).fill(-1);
  }
  return out;
}

export function cableLengthNm(sk: { vertices: Float32Array; edges: Uint32Array }): number {
  let len = 0;
  const v = sk.vertices;
  for (let e = 0; e < sk.edges.length; e += 2) {
    const a = 3 * sk.edges[e], b = 3 * sk.edges[e + 1];
    len += Math.hypot(v[a] - v[b], v[a + 1] - v[b + 1], v[a + 2] - v[b + 2]);
  }
  return len;
}

function meanEdge(sk: Skeleton): number {
  const m = sk.edges.length / 2;
  return m > 0 ? Math.max(1, cableLengthNm(sk) / m) : 100;
}

/** Tube volume (nm^3) of a skeleton: sum over edges of pi r^2 L with r the mean of the two radii. */
export function tubeVolumeNm3(sk: Skeleton): number {
  let vol = 0;
  const v = sk.vertices;
  for (let e = 0; e < sk.edges.length; e += 2) {
    const a = sk.edges[e], b = sk.edges[e + 1];
    const L = Math.hypot(v[3 * a] - v[3 * b], v[3 * a + 1] - v[3 * b + 1], v[3 * a + 2] - v[3 * b + 2]);
    const r = (sk.radius[a] + sk.radius[b]) / 2;
    vol += Math.PI * r * r * L;
  }
  return vol;
}

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};

/** Per-cell totals and densities. Volume: the cells table's, else the skeleton's tube volume. */
export function cellOrganelles(cell: CellInput): CellOrganelles {
  const cable = cableLengthNm(cell.skeleton) / 1000;
  const vol = (cell.volume && cell.volume > 0 ? cell.volume : tubeVolumeNm3(cell.skeleton)) / 1e9;
  const mitoVol = sum(cell.mito.size) / 1e9;
  const vesVol = sum(cell.vesicle.size) / 1e9;
  const nIn = cell.synIn.size.length;
  const nOut = cell.synOut.size.length;
  const per = (x: number, d: number) => (d > 0 ? x / d : 0);
  return {
    cable_length_um: cable,
    volume_um3: vol,
    mito_count: cell.mito.size.length,
    mito_volume_um3: mitoVol,
    vesicle_count: cell.vesicle.size.length,
    vesicle_volume_um3: vesVol,
    syn_in: nIn,
    syn_out: nOut,
    mito_per_um: per(cell.mito.size.length, cable),
    vesicle_per_um: per(cell.vesicle.size.length, cable),
    syn_in_per_um: per(nIn, cable),
    syn_out_per_um: per(nOut, cable),
    mito_volume_fraction: per(mitoVol, vol),
    syn_in_per_um3: per(nIn, vol),
    syn_out_per_um3: per(nOut, vol),
  };
}
