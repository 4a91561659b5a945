/**
 * The global phantom model: cells as geometric primitives (capsules with linearly varying radius,
 * spheres as zero-length capsules), synapses, mitochondria and vesicle clouds, and a uniform grid
 * index so a block only looks at the primitives near it. Built deterministically from
 * (seed, size, voxel size, options); every block of every worker builds the same model.
 *
 * Frame: nanometres, voxel p samples the point (p + 0.5) * voxelSize (core voxelToNm).
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';

export const CELL_TYPES = ['pyramidal', 'stellate', 'basket'] as const;
export type CellType = (typeof CELL_TYPES)[number];
/** Excitatory (spiny) types and the inhibitory (smooth) type. */
export const EXCITATORY: Record<CellType, boolean> = { pyramidal: true, stellate: true, basket: false };

/** Compartment codes of the compartments layer (uint8). */
export const COMPARTMENT = { none: 0, soma: 1, axon: 2, dendrite: 3, spineHead: 4, spineNeck: 5 } as const;
export const COMPARTMENT_NAMES = ['none', 'soma', 'axon', 'dendrite', 'spine_head', 'spine_neck'] as const;

export type TargetKind = 'spine' | 'shaft' | 'soma';
/**
 * Connection rules: for a postsynaptic (type, target kind), the probability of each presynaptic
 * type. Excitatory axons contact spine heads of spiny cells and dendritic shafts of basket cells;
 * basket axons contact shafts and somata of spiny cells. Pairs not listed never occur.
 */
export const CONNECTION_RULES: Record<CellType, Partial<Record<TargetKind, Partial<Record<CellType, number>>>>> = {
  pyramidal: { spine: { pyramidal: 0.6, stellate: 0.4 }, shaft: { basket: 1 }, soma: { basket: 1 } },
  stellate: { spine: { pyramidal: 0.3, stellate: 0.7 }, shaft: { basket: 1 }, soma: { basket: 1 } },
  basket: { shaft: { pyramidal: 0.5, stellate: 0.5 }, soma: { pyramidal: 0.5, stellate: 0.5 } },
};

export interface PhantomOptions {
  seed: number;
  /** Volume shape in voxels [x, y, z]. */
  size: Vec3;
  /** nm per voxel [x, y, z]. */
  voxelSize: Vec3;
}

export interface CellInfo {
  type: CellType;
  /** Soma centre (nm); for cells whose soma lies outside the modelled region, a point far along the neurite. */
  soma: Vec3;
  id: bigint;
}

export interface SynapseInfo {
  id: bigint;
  pre: number; // cell index
  post: number;
  kind: TargetKind;
  boutonPrim: number;
  targetPrim: number;
  contact: Vec3; // centre of the contact disc (nm)
  discRadius: number;
  prePoint: Vec3; // bouton centre
  postPoint: Vec3; // inside the target (spine head centre, or just under the shaft/soma surface)
}

export interface OrganelleInfo {
  id: bigint;
  kind: 'mitochondrion' | 'vesicle_cloud';
  host: number; // cell index
  a: Vec3;
  b: Vec3;
  r: number;
  synapse: number; // vesicle clouds: synapse index; else -1
}

export interface PhantomModel {
  options: PhantomOptions;
  extent: Vec3; // volume size in nm
  cells: CellInfo[];
  /** Low / high 32-bit words of each cell's id (for filling uint64 volumes fast). */
  cellIdLo: Uint32Array;
  cellIdHi: Uint32Array;
  // primitives (cell geometry)
  nPrims: number;
  pa: Float64Array; // 3 per prim
  pb: Float64Array;
  pra: Float64Array;
  prb: Float64Array;
  pcell: Int32Array;
  pcomp: Uint8Array;
  psyn: Int32Array; // boutons: synapse index, else -1
  /** b - a per prim (3 per prim), 1 / |b - a|^2 (0 for spheres), rb - ra. */
  pu: Float64Array;
  pinv: Float64Array;
  pdr: Float64Array;
  /** Per synapse: target prim, contact point (3), disc radius, post cell (for the block loop). */
  synTarget: Int32Array;
  synContact: Float64Array;
  synDisc: Float64Array;
  synPost: Int32Array;
  /** Per organelle: a (3), b - a (3), 1/|b-a|^2, r, host, kind (0 mitochondrion, 1 vesicle cloud). */
  oa: Float64Array;
  ou: Float64Array;
  oinv: Float64Array;
  or: Float64Array;
  ohost: Int32Array;
  okind: Uint8Array;
  synapses: SynapseInfo[];
  organelles: OrganelleInfo[];
  /** Grid: cells of `gridCell` nm from `gridOrigin`, `gridDims` cells; CSR lists of prims and organelles. */
  gridOrigin: Vec3;
  gridCell: number;
  gridDims: Vec3;
  primStart: Int32Array;
  primItems: Int32Array;
  orgStart: Int32Array;
  orgItems: Int32Array;
  /** Surfaces farther than this (nm) are ignored; voxels with no surface this close are extracellular. */
  influence: number;
}

// ------------------------------------------------------------------ deterministic random numbers

/** splitmix32-style generator: a stream of [0, 1) numbers from a 32-bit seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}

/** Hash of four 32-bit integers to [0, 1). Pure: the same voxel gives the same value in every block. */
export function hash4(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a | 0, 0x27d4eb2d) ^ Math.imul(b | 0, 0x165667b1) ^ Math.imul(c | 0, 0x9e3779b1) ^ Math.imul(d | 0, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

// ------------------------------------------------------------------ geometry helpers

type V = [number, number, number];
const add = (a: Vec3, b: Vec3): V => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const sub = (a: Vec3, b: Vec3): V => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const mul = (a: Vec3, s: number): V => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const len = (a: Vec3): number => Math.sqrt(dot(a, a));
const norm = (a: Vec3): V => mul(a, 1 / (len(a) || 1));
const cross = (a: Vec3, b: Vec3): V => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

function randomUnit(r: () => number): V {
  const z = 2 * r() - 1;
  const t = 2 * Math.PI * r();
  const s = Math.sqrt(1 - z * z);
  return [s * Math.cos(t), s * Math.sin(t), z];
}

/** A unit vector perpendicular to `u`, at a random angle. */
function randomPerp(u: Vec3, r: () => number): V {
  const helper: Vec3 = Math.abs(u[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  const e1 = norm(cross(u, helper));
  const e2 = cross(u, e1);
  const t = 2 * Math.PI * r();
  return add(mul(e1, Math.cos(t)), mul(e2, Math.sin(t)));
}

/** Turn direction `u` by a random small angle (persistence of a random walk). */
function wiggle(u: Vec3, amount: number, r: () => number): V {
  return norm(add(u, mul(randomUnit(r), amount)));
}

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
const between = (r: () => number, a: number, b: number) => a + (b - a) * r();

function pick<T extends string>(weights: Partial<Record<T, number>>, r: () => number): T {
  const entries = Object.entries(weights) as [T, number][];
  let u = r() * entries.reduce((s, [, w]) => s + w, 0);
  for (const [k, w] of entries) {
    u -= w;
    if (u < 0) return k;
  }
  return entries[entries.length - 1][0];
}

// ------------------------------------------------------------------ model building

/** Density and size constants (nm). Documented in docs/PHANTOM.md. */
export const MODEL_CONSTANTS = {
  /** Geometry is generated in the volume grown by this margin, so cells continue past its faces. */
  pad: 800,
  /** Axon length per µm^3 (µm): sets the density of small profiles. */
  axonLengthDensity: 32,
  /** Dendrite length per µm^3 (µm). */
  dendriteLengthDensity: 1.5,
  gridCell: 150,
  influence: 200,
  segment: 250,
};

class Builder {
  pa: number[] = [];
  pb: number[] = [];
  pra: number[] = [];
  prb: number[] = [];
  pcell: number[] = [];
  pcomp: number[] = [];
  psyn: number[] = [];
  cells: { type: CellType; soma: Vec3 }[] = [];
  synapses: Omit<SynapseInfo, 'id'>[] = [];
  organelles: Omit<OrganelleInfo, 'id'>[] = [];

  prim(a: Vec3, b: Vec3, ra: number, rb: number, cell: number, comp: number, syn = -1): number {
    this.pa.push(a[0], a[1], a[2]);
    this.pb.push(b[0], b[1], b[2]);
    this.pra.push(ra);
    this.prb.push(rb);
    this.pcell.push(cell);
    this.pcomp.push(comp);
    this.psyn.push(syn);
    return this.pcell.length - 1;
  }
  cell(type: CellType, soma: Vec3): number {
    this.cells.push({ type, soma });
    return this.cells.length - 1;
  }
}

interface Target {
  kind: TargetKind;
  post: number;
  prim: number;
  anchor: V; // spine head centre / point on the shaft axis / soma centre
  radius: number; // head / shaft / soma radius
  dir: V; // unit, from the anchor towards where the bouton sits
}

const cache = new Map<string, PhantomModel>();

/** The model for these options (cached per thread: every block of a run shares it). */
export function getModel(o: PhantomOptions): PhantomModel {
  const key = `${o.seed}|${o.size}|${o.voxelSize}`;
  let m = cache.get(key);
  if (!m) {
    if (cache.size > 4) cache.clear();
    m = buildModel(o);
    cache.set(key, m);
  }
  return m;
}

export function buildModel(o: PhantomOptions): PhantomModel {
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) throw new UsageError(`seed ${o.seed}: expected a whole number 0..4294967295`);
  for (let i = 0; i < 3; i++) {
    if (!(Number.isInteger(o.size[i]) && o.size[i] > 0)) throw new UsageError(`size [${o.size}]: expected positive whole numbers`);
    if (!(o.voxelSize[i] > 0)) throw new UsageError(`voxel size [${o.voxelSize}]: expected positive numbers`);
  }
  const C = MODEL_CONSTANTS;
  const extent: V = [o.size[0] * o.voxelSize[0], o.size[1] * o.voxelSize[1], o.size[2] * o.voxelSize[2]];
  const lo: V = [-C.pad, -C.pad, -C.pad];
  const hi: V = [extent[0] + C.pad, extent[1] + C.pad, extent[2] + C.pad];
  const inside = (p: Vec3, grow = 0) =>
    p[0] >= lo[0] - grow && p[0] <= hi[0] + grow && p[1] >= lo[1] - grow && p[1] <= hi[1] + grow && p[2] >= lo[2] - grow && p[2] <= hi[2] + grow;
  const regionUm3 = ((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2])) / 1e9;
  const randomPoint = (r: () => number): V => [between(r, lo[0], hi[0]), between(r, lo[1], hi[1]), between(r, lo[2], hi[2])];

  const B = new Builder();
  const targets: Target[] = [];
  const rMain = rng(o.seed ^ 0x5eed1234);
  const typeWeights: Record<CellType, number> = { pyramidal: 0.5, stellate: 0.3, basket: 0.2 };

  // Mitochondrion inside a capsule segment of a cell.
  const mitoInSegment = (a: Vec3, b: Vec3, rHost: number, cell: number, r: () => number, frac: number) => {
    const u = sub(b, a);
    const off = mul(randomPerp(norm(u), r), rHost * 0.2 * r());
    const t0 = between(r, 0.05, 0.3);
    const t1 = between(r, 0.7, 0.95);
    B.organelles.push({ kind: 'mitochondrion', host: cell, a: add(add(a, mul(u, t0)), off), b: add(add(a, mul(u, t1)), off), r: rHost * frac, synapse: -1 });
  };

  // ---- dendrites: a persistent random walk of tapering capsules, with spines / shaft targets
  const dendrite = (cell: number, start: V, dir: V, r0: number, r1: number, maxLen: number, r: () => number, depth: number): number => {
    const type = B.cells[cell].type;
    const spiny = EXCITATORY[type];
    let p = start;
    let u = dir;
    let length = 0;
    let radius = r0;
    while (length < maxLen && inside(p, 0)) {
      const seg = C.segment * between(r, 1.2, 2);
      const nu = wiggle(u, 0.25, r);
      const q = add(p, mul(nu, seg));
      const taper = Math.max(r1, radius - (r0 - r1) * (seg / maxLen));
      // basket dendrites are beaded: radius varies along the segment
      const ra = type === 'basket' ? radius * between(r, 0.8, 1.25) : radius;
      const rb = type === 'basket' ? taper * between(r, 0.8, 1.25) : taper;
      const prim = B.prim(p, q, ra, rb, cell, COMPARTMENT.dendrite);
      if (r() < 0.5) mitoInSegment(p, q, Math.min(ra, rb), cell, r, between(r, 0.3, 0.45));
      // spines every ~0.7 µm on spiny dendrites; shaft targets on every dendrite
      const nSpines = spiny ? Math.floor(seg / 350 + r()) : 0;
      for (let k = 0; k < nSpines; k++) {
        const t = r();
        const axis = add(p, mul(sub(q, p), t));
        const rs = lerp(ra, rb, t);
        const v = randomPerp(nu, r);
        const neck = between(r, 350, 800);
        const rh = between(r, 110, 220);
        const rn = between(r, 35, 55);
        const head = add(axis, mul(v, rs + neck + rh));
        if (!inside(head, 0)) continue;
        B.prim(add(axis, mul(v, rs * 0.7)), add(axis, mul(v, rs + neck + rh * 0.3)), rn, rn, cell, COMPARTMENT.spineNeck);
        const hp = B.prim(head, head, rh, rh, cell, COMPARTMENT.spineHead);
        targets.push({ kind: 'spine', post: cell, prim: hp, anchor: head, radius: rh, dir: wiggle(v, 0.5, r) });
      }
      const shaftEvery = spiny ? 2500 : 600;
      const nShaft = Math.floor(seg / shaftEvery + r());
      for (let k = 0; k < nShaft; k++) {
        const t = between(r, 0.2, 0.8);
        targets.push({ kind: 'shaft', post: cell, prim, anchor: add(p, mul(sub(q, p), t)), radius: lerp(ra, rb, t), dir: randomPerp(nu, r) });
      }
      if (depth < 2 && r() < 0.04) {
        dendrite(cell, add(p, mul(sub(q, p), 0.5)), wiggle(randomPerp(nu, r), 0.6, r), taper * 0.75, Math.max(150, r1 * 0.7), maxLen * 0.6, r, depth + 1);
      }
      p = q;
      u = nu;
      radius = taper;
      length += seg;
    }
    return length;
  };

  // ---- somata (at least one per volume; partly inside small volumes)
  const volUm3 = (extent[0] * extent[1] * extent[2]) / 1e9;
  const nSoma = Math.max(1, Math.round(volUm3 / 400));
  let dendriteLength = 0;
  for (let s = 0; s < nSoma; s++) {
    const r = rng(hash4(o.seed, s, 1, 0x50) * 4294967296);
    const type = pick(typeWeights, r);
    const rad = type === 'pyramidal' ? between(r, 3000, 3800) : between(r, 2400, 3000);
    let c: V = [between(r, 0, extent[0]), between(r, 0, extent[1]), between(r, 0, extent[2])];
    // In a volume smaller than the soma, let it bite into one face only.
    const axis = extent[0] < 3 * rad || extent[1] < 3 * rad || extent[2] < 3 * rad ? Math.floor(r() * 3) : -1;
    if (axis >= 0) {
      const side = r() < 0.5 ? 0 : 1;
      const depth = Math.min(extent[axis] * 0.2, rad);
      c[axis] = side === 0 ? depth - rad : extent[axis] - depth + rad;
      if (axis !== 2 && extent[2] < 3 * rad) c[2] = extent[2] / 2;
    }
    c = c as V;
    const cell = B.cell(type, c);
    const sp = B.prim(c, c, rad, rad, cell, COMPARTMENT.soma);
    // mitochondria scattered in the soma (inside the modelled region)
    const nMito = 300; // attempts; only those inside the modelled region are kept
    for (let k = 0; k < nMito; k++) {
      const m = add(c, mul(randomUnit(r), rad * 0.85 * Math.cbrt(r())));
      if (!inside(m, 0)) continue;
      const d = mul(randomUnit(r), between(r, 150, 450));
      B.organelles.push({ kind: 'mitochondrion', host: cell, a: sub(m, d), b: add(m, d), r: between(r, 90, 140), synapse: -1 });
    }
    for (let k = 0; k < 8; k++) {
      const v = randomUnit(r);
      const anchor = c;
      if (inside(add(c, mul(v, rad)), 0)) targets.push({ kind: 'soma', post: cell, prim: sp, anchor, radius: rad, dir: v });
    }
    const nDend = type === 'pyramidal' ? 5 : 6;
    for (let k = 0; k < nDend; k++) {
      const v = randomUnit(r);
      dendriteLength += dendrite(cell, add(c, mul(v, rad * 0.8)), v, type === 'pyramidal' ? 650 : 550, 320, 20000, r, 0);
    }
  }
  // ---- dendrites of cells whose somata lie outside
  const wantDendrite = C.dendriteLengthDensity * regionUm3 * 1000;
  for (let k = 0; dendriteLength < wantDendrite && k < 100000; k++) {
    const r = rng(hash4(o.seed, k, 2, 0xd0) * 4294967296);
    const type = pick(typeWeights, r);
    const start = randomPoint(r);
    const u = randomUnit(r);
    const cell = B.cell(type, add(start, mul(u, -between(r, 40000, 120000))));
    const rad = type === 'pyramidal' ? between(r, 250, 400) : type === 'stellate' ? between(r, 220, 350) : between(r, 200, 320);
    dendriteLength += dendrite(cell, start, u, rad, rad * 0.8, 30000, r, 1);
    dendriteLength += dendrite(cell, start, mul(u, -1), rad, rad * 0.8, 30000, r, 1);
  }

  // ---- synapses: a presynaptic type per target by the rules; boutons touch the target
  interface Bouton {
    pre: CellType;
    c: V;
    rb: number;
    t: Target;
  }
  const boutons: Bouton[] = [];
  const rSyn = rng(o.seed ^ 0x51a9);
  for (const t of targets) {
    const post = B.cells[t.post].type;
    const rule = CONNECTION_RULES[post][t.kind];
    if (!rule) continue;
    if (rSyn() > (t.kind === 'spine' ? 0.85 : 0.9)) continue;
    const pre = pick(rule, rSyn);
    const rb = EXCITATORY[pre] ? between(rSyn, 150, 240) : between(rSyn, 190, 280);
    const c = add(t.anchor, mul(t.dir, t.radius + rb));
    if (!inside(c, 0)) continue;
    boutons.push({ pre, c, rb, t });
  }
  // Chain the boutons of each presynaptic type into axons (greedy nearest neighbour).
  const axonCell = (type: CellType, r: () => number, through: V, u: V): number => B.cell(type, add(through, mul(u, -between(r, 50000, 150000))));
  const rAx = rng(o.seed ^ 0xa70);
  let axonLength = 0;
  const axonWalk = (cell: number, p0: V, u0: V, radius: number, r: () => number): number => {
    let p = p0;
    let u = u0;
    let length = 0;
    while (inside(p, 0) && length < 60000) {
      const seg = C.segment * between(r, 1, 2);
      const nu = wiggle(u, 0.3, r);
      const q = add(p, mul(nu, seg));
      B.prim(p, q, radius, radius, cell, COMPARTMENT.axon);
      if (r() < 0.08) mitoInSegment(p, q, radius, cell, r, 0.6);
      p = q;
      u = nu;
      length += seg;
    }
    return length;
  };
  for (const type of CELL_TYPES) {
    const mine = boutons.filter((b) => b.pre === type);
    const used = new Uint8Array(mine.length);
    for (let start = 0; start < mine.length; start++) {
      if (used[start]) continue;
      const chain = [start];
      used[start] = 1;
      const want = 2 + Math.floor(rAx() * 5);
      while (chain.length < want) {
        const last = mine[chain[chain.length - 1]].c;
        let best = -1;
        let bestD = 2500;
        for (let j = 0; j < mine.length; j++) {
          if (used[j]) continue;
          const d = len(sub(mine[j].c, last));
          if (d < bestD) {
            bestD = d;
            best = j;
          }
        }
        if (best < 0) break;
        used[best] = 1;
        chain.push(best);
      }
      const first = mine[chain[0]].c;
      const lastC = mine[chain[chain.length - 1]].c;
      const u0 = chain.length > 1 ? norm(sub(lastC, first)) : randomUnit(rAx);
      const cell = axonCell(type, rAx, first, u0);
      const ra = EXCITATORY[type] ? between(rAx, 45, 70) : between(rAx, 55, 80);
      // path: in from outside, through every bouton, out again
      axonLength += axonWalk(cell, first, mul(u0, -1), ra, rAx);
      for (let k = 0; k < chain.length; k++) {
        const b = mine[chain[k]];
        if (k > 0) {
          const prev = mine[chain[k - 1]].c;
          const mid = add(mul(add(prev, b.c), 0.5), mul(randomUnit(rAx), len(sub(b.c, prev)) * 0.15));
          B.prim(prev, mid, ra, ra, cell, COMPARTMENT.axon);
          B.prim(mid, b.c, ra, ra, cell, COMPARTMENT.axon);
          axonLength += len(sub(b.c, prev));
        }
        const s = B.synapses.length;
        const bp = B.prim(b.c, b.c, b.rb, b.rb, cell, COMPARTMENT.axon, s);
        const t = b.t;
        const contact = add(t.anchor, mul(t.dir, t.radius));
        const postPoint = t.kind === 'spine' ? t.anchor : add(t.anchor, mul(t.dir, t.kind === 'soma' ? t.radius - 300 : t.radius * 0.4));
        const discRadius = Math.min(b.rb, t.kind === 'spine' ? t.radius : 200) * 0.75;
        B.synapses.push({ pre: cell, post: t.post, kind: t.kind, boutonPrim: bp, targetPrim: t.prim, contact, discRadius, prePoint: b.c, postPoint });
        // vesicle cloud on the contact side of the bouton, a mitochondrion on the far side in some
        B.organelles.push({ kind: 'vesicle_cloud', host: cell, a: add(b.c, mul(t.dir, -0.25 * b.rb)), b: add(b.c, mul(t.dir, -0.25 * b.rb)), r: 0.72 * b.rb, synapse: s });
        if (rAx() < 0.4) {
          const m = add(b.c, mul(t.dir, 0.45 * b.rb));
          const d = mul(randomPerp(t.dir, rAx), 0.3 * b.rb);
          B.organelles.push({ kind: 'mitochondrion', host: cell, a: sub(m, d), b: add(m, d), r: 0.3 * b.rb, synapse: -1 });
        }
      }
      axonLength += axonWalk(cell, lastC, u0, ra, rAx);
    }
  }
  // ---- passing axons (no synapse here) up to the wanted density
  const wantAxon = C.axonLengthDensity * regionUm3 * 1000;
  for (let k = 0; axonLength < wantAxon && k < 1000000; k++) {
    const r = rng(hash4(o.seed, k, 3, 0xa1) * 4294967296);
    const type = pick({ pyramidal: 0.45, stellate: 0.35, basket: 0.2 } as Record<CellType, number>, r);
    const start = randomPoint(r);
    const u = randomUnit(r);
    const cell = axonCell(type, r, start, u);
    const ra = between(r, 40, 75);
    axonLength += axonWalk(cell, start, u, ra, r);
    axonLength += axonWalk(cell, start, mul(u, -1), ra, r);
  }

  return finish(o, extent, lo, hi, B);
}

function cellId(i: number): bigint {
  // Even cells: small ids; odd cells: MICrONS-like ids above 2^53 (neighbours differ by 2, which
  // a float64 cannot tell apart there) to exercise exact uint64 handling.
  return i % 2 === 0 ? BigInt(i + 1) : 864691135000000000n + BigInt(i);
}

function finish(o: PhantomOptions, extent: V, lo: V, hi: V, B: Builder): PhantomModel {
  const C = MODEL_CONSTANTS;
  const n = B.pcell.length;
  const cells: CellInfo[] = B.cells.map((c, i) => ({ ...c, id: cellId(i) }));
  const cellIdLo = new Uint32Array(cells.length);
  const cellIdHi = new Uint32Array(cells.length);
  cells.forEach((c, i) => {
    cellIdLo[i] = Number(c.id & 0xffffffffn);
    cellIdHi[i] = Number(c.id >> 32n);
  });
  const synapses: SynapseInfo[] = B.synapses.map((s, i) => ({ ...s, id: 0x0a00000000000000n + BigInt(i + 1) }));
  let nm = 0;
  for (const org of B.organelles) if (org.kind === 'mitochondrion') nm++;
  let im = 0;
  let iv = 0;
  const organelles: OrganelleInfo[] = B.organelles.map((g) => ({ ...g, id: g.kind === 'mitochondrion' ? BigInt(++im) : BigInt(nm + ++iv) }));

  const R = C.influence;
  const G = C.gridCell;
  const origin: V = [lo[0] - R, lo[1] - R, lo[2] - R];
  const dims: V = [0, 1, 2].map((i) => Math.ceil((hi[i] + R - origin[i]) / G)) as V;
  const nCells = dims[0] * dims[1] * dims[2];
  const pa = Float64Array.from(B.pa);
  const pb = Float64Array.from(B.pb);
  const pra = Float64Array.from(B.pra);
  const prb = Float64Array.from(B.prb);
  // Keep a primitive in a grid cell only if its surface can come within `reach` of the cell
  // (cell centre to capsule distance minus radius <= reach + half the cell diagonal).
  const halfDiag = (G * Math.sqrt(3)) / 2;
  const near = (i: number, x: number, y: number, z: number, reach: number): boolean => {
    const cx = origin[0] + (x + 0.5) * G;
    const cy = origin[1] + (y + 0.5) * G;
    const cz = origin[2] + (z + 0.5) * G;
    const ax = pa[3 * i];
    const ay = pa[3 * i + 1];
    const az = pa[3 * i + 2];
    const ux = pb[3 * i] - ax;
    const uy = pb[3 * i + 1] - ay;
    const uz = pb[3 * i + 2] - az;
    const l2 = ux * ux + uy * uy + uz * uz;
    let t = l2 > 0 ? ((cx - ax) * ux + (cy - ay) * uy + (cz - az) * uz) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const d = Math.hypot(cx - ax - t * ux, cy - ay - t * uy, cz - az - t * uz) - Math.max(pra[i], prb[i]);
    return d <= reach + halfDiag;
  };
  const csr = (count: number, bounds: (i: number, out: Float64Array) => void, keep?: (i: number, x: number, y: number, z: number) => boolean): [Int32Array, Int32Array] => {
    const bb = new Float64Array(6);
    const range = (i: number, out: Int32Array) => {
      bounds(i, bb);
      for (let a = 0; a < 3; a++) {
        out[a] = Math.max(0, Math.floor((bb[a] - origin[a]) / G));
        out[a + 3] = Math.min(dims[a] - 1, Math.floor((bb[a + 3] - origin[a]) / G));
      }
    };
    const rr = new Int32Array(6);
    const start = new Int32Array(nCells + 1);
    for (let i = 0; i < count; i++) {
      range(i, rr);
      for (let z = rr[2]; z <= rr[5]; z++) for (let y = rr[1]; y <= rr[4]; y++) for (let x = rr[0]; x <= rr[3]; x++) if (!keep || keep(i, x, y, z)) start[x + dims[0] * (y + dims[1] * z) + 1]++;
    }
    for (let c = 0; c < nCells; c++) start[c + 1] += start[c];
    const items = new Int32Array(start[nCells]);
    const fill = start.slice(0, nCells);
    for (let i = 0; i < count; i++) {
      range(i, rr);
      for (let z = rr[2]; z <= rr[5]; z++) for (let y = rr[1]; y <= rr[4]; y++) for (let x = rr[0]; x <= rr[3]; x++) if (!keep || keep(i, x, y, z)) items[fill[x + dims[0] * (y + dims[1] * z)]++] = i;
    }
    return [start, items];
  };
  const [primStart, primItems] = csr(n, (i, out) => {
    const r = Math.max(pra[i], prb[i]) + R;
    for (let a = 0; a < 3; a++) {
      out[a] = Math.min(pa[3 * i + a], pb[3 * i + a]) - r;
      out[a + 3] = Math.max(pa[3 * i + a], pb[3 * i + a]) + r;
    }
  }, (i, x, y, z) => near(i, x, y, z, R));
  const [orgStart, orgItems] = csr(organelles.length, (i, out) => {
    const g = organelles[i];
    // + 20 nm so the outer membrane just outside the organelle is drawn too
    for (let a = 0; a < 3; a++) {
      out[a] = Math.min(g.a[a], g.b[a]) - g.r - 20;
      out[a + 3] = Math.max(g.a[a], g.b[a]) + g.r + 20;
    }
  });
  const pu = new Float64Array(3 * n);
  const pinv = new Float64Array(n);
  const pdr = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let l2 = 0;
    for (let a = 0; a < 3; a++) {
      pu[3 * i + a] = pb[3 * i + a] - pa[3 * i + a];
      l2 += pu[3 * i + a] ** 2;
    }
    pinv[i] = l2 > 0 ? 1 / l2 : 0;
    pdr[i] = prb[i] - pra[i];
  }
  const ns = synapses.length;
  const synTarget = new Int32Array(ns);
  const synContact = new Float64Array(3 * ns);
  const synDisc = new Float64Array(ns);
  const synPost = new Int32Array(ns);
  synapses.forEach((s, i) => {
    synTarget[i] = s.targetPrim;
    synContact.set(s.contact, 3 * i);
    synDisc[i] = s.discRadius;
    synPost[i] = s.post;
  });
  const no = organelles.length;
  const oa = new Float64Array(3 * no);
  const ou = new Float64Array(3 * no);
  const oinv = new Float64Array(no);
  const or = new Float64Array(no);
  const ohost = new Int32Array(no);
  const okind = new Uint8Array(no);
  organelles.forEach((g, i) => {
    const u = sub(g.b, g.a);
    oa.set(g.a, 3 * i);
    ou.set(u, 3 * i);
    oinv[i] = dot(u, u) > 0 ? 1 / dot(u, u) : 0;
    or[i] = g.r;
    ohost[i] = g.host;
    okind[i] = g.kind === 'mitochondrion' ? 0 : 1;
  });
  return {
    pu,
    pinv,
    pdr,
    synTarget,
    synContact,
    synDisc,
    synPost,
    oa,
    ou,
    oinv,
    or,
    ohost,
    okind,
    options: { seed: o.seed, size: [...o.size] as V, voxelSize: [...o.voxelSize] as V },
    extent,
    cells,
    cellIdLo,
    cellIdHi,
    nPrims: n,
    pa,
    pb,
    pra,
    prb,
    pcell: Int32Array.from(B.pcell),
    pcomp: Uint8Array.from(B.pcomp),
    psyn: Int32Array.from(B.psyn),
    synapses,
    organelles,
    gridOrigin: origin,
    gridCell: G,
    gridDims: dims,
    primStart,
    primItems,
    orgStart,
    orgItems,
    influence: R,
  };
}
