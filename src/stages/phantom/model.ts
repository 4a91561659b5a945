/**
 * The phantom model, local to a box: cells as geometric primitives (capsules with linearly varying
 * radius, spheres as zero-length capsules), synapses, mitochondria and vesicle clouds, and a
 * uniform grid index so a voxel only looks at the primitives near it.
 *
 * Locality: space is cut into cubic tiles (MODEL_CONSTANTS.tile nm). Everything anchored in a tile
 * (somata, dendrites with their spines and synaptic targets, the axons that make those synapses,
 * passing axons, organelles) is a pure function of (seed, tile index) and lies within the tile
 * grown by a known reach. The model of a box is the union of the tiles that can reach it (in tile
 * order), cut to the primitives near the box, so every voxel sees the same primitives in the same
 * order whatever box it is rasterised in: output is identical for any block shape or worker count,
 * and the model's size and build time depend on the box, not on the volume. Only a volume smaller
 * than one soma's share (MODEL_CONSTANTS.somaVolume) adds one soma of its own, from (seed, size).
 *
 * Frame: nanometres, voxel p samples the point (p + 0.5) * voxelSize (core voxelToNm).
 */
import { type Box, type Vec3, boxFromShape } from '../../core/box.js';
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
  /** Compartment code of the target primitive (spine head, dendrite, soma). */
  targetComp: number;
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
  /** The voxel box this model serves (every primitive that can reach it is in the model). */
  box: Box;
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
  /** Per synapse: contact point (3), disc radius, post cell (for the block loop). */
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
  /** Grid over `box`: cells of `gridCell` nm from `gridOrigin` (a multiple of gridCell, so cells sit on one global lattice), `gridDims` cells; CSR lists of prims and organelles. */
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

/** Density, size and locality constants (nm). Documented in docs/PHANTOM.md. */
export const MODEL_CONSTANTS = {
  /** Edge of the cubic tiles that generation is keyed by. */
  tile: 2000,
  /** Neurites anchored in a tile (dendrites, axons) stay inside the tile grown by this. */
  reach: 2000,
  /** Somata (centre in the tile) and everything of theirs stay inside the tile grown by this. */
  somaReach: 6000,
  /** What a walk may overshoot its confinement by: one segment plus the largest radius and organelle margin. */
  slack: 1400,
  /** One soma per this many µm^3 (a tile holds one with probability tile^3 / somaVolume). */
  somaVolume: 400,
  /** Axon length per µm^3 (µm): sets the density of small profiles. */
  axonLengthDensity: 32,
  /** Dendrite length per µm^3 (µm). */
  dendriteLengthDensity: 1.5,
  gridCell: 150,
  influence: 200,
  segment: 250,
};

/** Tile indices run over -TILE_RANGE..TILE_RANGE on each axis (keys are 3 x 12 bits). */
const TILE_RANGE = 2047;
const tileKey = (ix: number, iy: number, iz: number): number => ((iz + 2048) * 4096 + (iy + 2048)) * 4096 + (ix + 2048);
/** Key of the one soma a small volume adds (tile (-2048, -2048, -2048), never a real tile). */
const VOLUME_SOMA_KEY = 0;

/** A confinement box [lo, hi] (nm). */
type Confine = [V, V];
const inside = (p: Vec3, c: Confine): boolean =>
  p[0] >= c[0][0] && p[0] <= c[1][0] && p[1] >= c[0][1] && p[1] <= c[1][1] && p[2] >= c[0][2] && p[2] <= c[1][2];
const grown = (lo: Vec3, hi: Vec3, g: number): Confine => [
  [lo[0] - g, lo[1] - g, lo[2] - g],
  [hi[0] + g, hi[1] + g, hi[2] + g],
];

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
  comp: number;
  anchor: V; // spine head centre / point on the shaft axis / soma centre
  radius: number; // head / shaft / soma radius
  dir: V; // unit, from the anchor towards where the bouton sits
  confine: Confine; // the bouton and its axon stay in here
}

const typeWeights: Record<CellType, number> = { pyramidal: 0.5, stellate: 0.3, basket: 0.2 };

/**
 * One tile's content (or the small volume's own soma): cells, primitives, synapses and organelles
 * with indices local to it, ids global (from the tile key), and the bounding box of its geometry.
 */
export interface TileContent {
  key: number;
  cells: CellInfo[];
  nPrims: number;
  pa: Float64Array;
  pb: Float64Array;
  pra: Float64Array;
  prb: Float64Array;
  pcell: Int32Array;
  pcomp: Uint8Array;
  psyn: Int32Array;
  synapses: SynapseInfo[];
  organelles: OrganelleInfo[];
  /** Bounding box (nm) of all geometry, radii and organelle margins included: lo (3), hi (3). */
  bounds: Float64Array;
}

/** The generator of one tile's content: the walks of the former global model, each confined to a box. */
class TileGen {
  B = new Builder();
  targets: Target[] = [];
  dendriteLength = 0;
  axonLength = 0;

  mitoInSegment(a: Vec3, b: Vec3, rHost: number, cell: number, r: () => number, frac: number): void {
    const u = sub(b, a);
    const off = mul(randomPerp(norm(u), r), rHost * 0.2 * r());
    const t0 = between(r, 0.05, 0.3);
    const t1 = between(r, 0.7, 0.95);
    this.B.organelles.push({ kind: 'mitochondrion', host: cell, a: add(add(a, mul(u, t0)), off), b: add(add(a, mul(u, t1)), off), r: rHost * frac, synapse: -1 });
  }

  /** A dendrite: a persistent random walk of tapering capsules, with spines / shaft targets. */
  dendrite(cell: number, start: V, dir: V, r0: number, r1: number, maxLen: number, r: () => number, depth: number, box: Confine): number {
    const C = MODEL_CONSTANTS;
    const B = this.B;
    const type = B.cells[cell].type;
    const spiny = EXCITATORY[type];
    let p = start;
    let u = dir;
    let length = 0;
    let radius = r0;
    while (length < maxLen && inside(p, box)) {
      const seg = C.segment * between(r, 1.2, 2);
      const nu = wiggle(u, 0.25, r);
      const q = add(p, mul(nu, seg));
      const taper = Math.max(r1, radius - (r0 - r1) * (seg / maxLen));
      // basket dendrites are beaded: radius varies along the segment
      const ra = type === 'basket' ? radius * between(r, 0.8, 1.25) : radius;
      const rb = type === 'basket' ? taper * between(r, 0.8, 1.25) : taper;
      B.prim(p, q, ra, rb, cell, COMPARTMENT.dendrite);
      if (r() < 0.5) this.mitoInSegment(p, q, Math.min(ra, rb), cell, r, between(r, 0.3, 0.45));
      // spines every ~0.35 µm on spiny dendrites; shaft targets on every dendrite
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
        if (!inside(head, box)) continue;
        B.prim(add(axis, mul(v, rs * 0.7)), add(axis, mul(v, rs + neck + rh * 0.3)), rn, rn, cell, COMPARTMENT.spineNeck);
        B.prim(head, head, rh, rh, cell, COMPARTMENT.spineHead);
        this.targets.push({ kind: 'spine', post: cell, comp: COMPARTMENT.spineHead, anchor: head, radius: rh, dir: wiggle(v, 0.5, r), confine: box });
      }
      const shaftEvery = spiny ? 2500 : 600;
      const nShaft = Math.floor(seg / shaftEvery + r());
      for (let k = 0; k < nShaft; k++) {
        const t = between(r, 0.2, 0.8);
        this.targets.push({ kind: 'shaft', post: cell, comp: COMPARTMENT.dendrite, anchor: add(p, mul(sub(q, p), t)), radius: lerp(ra, rb, t), dir: randomPerp(nu, r), confine: box });
      }
      if (depth < 2 && r() < 0.04) {
        this.dendrite(cell, add(p, mul(sub(q, p), 0.5)), wiggle(randomPerp(nu, r), 0.6, r), taper * 0.75, Math.max(150, r1 * 0.7), maxLen * 0.6, r, depth + 1, box);
      }
      p = q;
      u = nu;
      radius = taper;
      length += seg;
    }
    return length;
  }

  /** A soma of this type and radius at c with its dendrites, mitochondria and somatic targets, all within `box`. */
  soma(type: CellType, c: V, rad: number, r: () => number, box: Confine): void {
    const B = this.B;
    const cell = B.cell(type, c);
    B.prim(c, c, rad, rad, cell, COMPARTMENT.soma);
    for (let k = 0; k < 300; k++) {
      const m = add(c, mul(randomUnit(r), rad * 0.85 * Math.cbrt(r())));
      if (!inside(m, box)) continue;
      const d = mul(randomUnit(r), between(r, 150, 450));
      B.organelles.push({ kind: 'mitochondrion', host: cell, a: sub(m, d), b: add(m, d), r: between(r, 90, 140), synapse: -1 });
    }
    for (let k = 0; k < 8; k++) {
      const v = randomUnit(r);
      if (inside(add(c, mul(v, rad)), box)) this.targets.push({ kind: 'soma', post: cell, comp: COMPARTMENT.soma, anchor: c, radius: rad, dir: v, confine: box });
    }
    const nDend = type === 'pyramidal' ? 5 : 6;
    for (let k = 0; k < nDend; k++) {
      const v = randomUnit(r);
      this.dendriteLength += this.dendrite(cell, add(c, mul(v, rad * 0.8)), v, type === 'pyramidal' ? 650 : 550, 320, 20000, r, 0, box);
    }
  }

  axonCell(type: CellType, r: () => number, through: V, u: V): number {
    return this.B.cell(type, add(through, mul(u, -between(r, 50000, 150000))));
  }

  axonWalk(cell: number, p0: V, u0: V, radius: number, r: () => number, box: Confine): number {
    const C = MODEL_CONSTANTS;
    let p = p0;
    let u = u0;
    let length = 0;
    while (inside(p, box) && length < 60000) {
      const seg = C.segment * between(r, 1, 2);
      const nu = wiggle(u, 0.3, r);
      const q = add(p, mul(nu, seg));
      this.B.prim(p, q, radius, radius, cell, COMPARTMENT.axon);
      if (r() < 0.08) this.mitoInSegment(p, q, radius, cell, r, 0.6);
      p = q;
      u = nu;
      length += seg;
    }
    return length;
  }

  /**
   * Synapses onto this tile's targets: a presynaptic type per target by the rules, a bouton
   * touching the target; the boutons of each type chained (greedy nearest neighbour) into axons.
   */
  synapses(rSyn: () => number, rAx: () => number): void {
    const B = this.B;
    interface Bouton {
      pre: CellType;
      c: V;
      rb: number;
      t: Target;
    }
    const boutons: Bouton[] = [];
    for (const t of this.targets) {
      const post = B.cells[t.post].type;
      const rule = CONNECTION_RULES[post][t.kind];
      if (!rule) continue;
      if (rSyn() > (t.kind === 'spine' ? 0.85 : 0.9)) continue;
      const pre = pick(rule, rSyn);
      const rb = EXCITATORY[pre] ? between(rSyn, 150, 240) : between(rSyn, 190, 280);
      const c = add(t.anchor, mul(t.dir, t.radius + rb));
      if (!inside(c, t.confine)) continue;
      boutons.push({ pre, c, rb, t });
    }
    for (const type of CELL_TYPES) {
      const mine = boutons.filter((b) => b.pre === type);
      const used = new Uint8Array(mine.length);
      for (let start = 0; start < mine.length; start++) {
        if (used[start]) continue;
        const chain = [start];
        used[start] = 1;
        const want = 2 + Math.floor(rAx() * 5);
        const box = mine[start].t.confine;
        while (chain.length < want) {
          const last = mine[chain[chain.length - 1]].c;
          let best = -1;
          let bestD = 2500;
          for (let j = 0; j < mine.length; j++) {
            if (used[j] || mine[j].t.confine !== box) continue;
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
        const cell = this.axonCell(type, rAx, first, u0);
        const ra = EXCITATORY[type] ? between(rAx, 45, 70) : between(rAx, 55, 80);
        // path: in from outside, through every bouton, out again
        this.axonLength += this.axonWalk(cell, first, mul(u0, -1), ra, rAx, box);
        for (let k = 0; k < chain.length; k++) {
          const b = mine[chain[k]];
          if (k > 0) {
            const prev = mine[chain[k - 1]].c;
            const mid = add(mul(add(prev, b.c), 0.5), mul(randomUnit(rAx), len(sub(b.c, prev)) * 0.15));
            B.prim(prev, mid, ra, ra, cell, COMPARTMENT.axon);
            B.prim(mid, b.c, ra, ra, cell, COMPARTMENT.axon);
            this.axonLength += len(sub(b.c, prev));
          }
          const s = B.synapses.length;
          B.prim(b.c, b.c, b.rb, b.rb, cell, COMPARTMENT.axon, s);
          const t = b.t;
          const contact = add(t.anchor, mul(t.dir, t.radius));
          const postPoint = t.kind === 'spine' ? t.anchor : add(t.anchor, mul(t.dir, t.kind === 'soma' ? t.radius - 300 : t.radius * 0.4));
          const discRadius = Math.min(b.rb, t.kind === 'spine' ? t.radius : 200) * 0.75;
          B.synapses.push({ pre: cell, post: t.post, kind: t.kind, targetComp: t.comp, contact, discRadius, prePoint: b.c, postPoint });
          // vesicle cloud on the contact side of the bouton, a mitochondrion on the far side in some
          B.organelles.push({ kind: 'vesicle_cloud', host: cell, a: add(b.c, mul(t.dir, -0.25 * b.rb)), b: add(b.c, mul(t.dir, -0.25 * b.rb)), r: 0.72 * b.rb, synapse: s });
          if (rAx() < 0.4) {
            const m = add(b.c, mul(t.dir, 0.45 * b.rb));
            const d = mul(randomPerp(t.dir, rAx), 0.3 * b.rb);
            B.organelles.push({ kind: 'mitochondrion', host: cell, a: sub(m, d), b: add(m, d), r: 0.3 * b.rb, synapse: -1 });
          }
        }
        this.axonLength += this.axonWalk(cell, lastC, u0, ra, rAx, box);
      }
    }
  }

  finish(key: number): TileContent {
    const B = this.B;
    if (B.cells.length >= 4096 || B.synapses.length >= 65536 || B.organelles.length >= 65536) {
      throw new Error(`phantom tile ${key}: ${B.cells.length} cells, ${B.synapses.length} synapses, ${B.organelles.length} organelles exceed the id space`);
    }
    const cells: CellInfo[] = B.cells.map((c, i) => ({ ...c, id: cellId(key, i) }));
    const synapses: SynapseInfo[] = B.synapses.map((s, i) => ({ ...s, id: 0x0a00000000000000n + BigInt(key * 65536 + i + 1) }));
    const organelles: OrganelleInfo[] = B.organelles.map((g, i) => ({ ...g, id: BigInt(key * 65536 + i + 1) }));
    const n = B.pcell.length;
    const bounds = new Float64Array([Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity]);
    for (let i = 0; i < n; i++) {
      const r = Math.max(B.pra[i], B.prb[i]);
      for (let a = 0; a < 3; a++) {
        bounds[a] = Math.min(bounds[a], B.pa[3 * i + a] - r, B.pb[3 * i + a] - r);
        bounds[a + 3] = Math.max(bounds[a + 3], B.pa[3 * i + a] + r, B.pb[3 * i + a] + r);
      }
    }
    for (const g of organelles) {
      for (let a = 0; a < 3; a++) {
        bounds[a] = Math.min(bounds[a], g.a[a] - g.r - 20, g.b[a] - g.r - 20);
        bounds[a + 3] = Math.max(bounds[a + 3], g.a[a] + g.r + 20, g.b[a] + g.r + 20);
      }
    }
    return {
      key,
      cells,
      nPrims: n,
      pa: Float64Array.from(B.pa),
      pb: Float64Array.from(B.pb),
      pra: Float64Array.from(B.pra),
      prb: Float64Array.from(B.prb),
      pcell: Int32Array.from(B.pcell),
      pcomp: Uint8Array.from(B.pcomp),
      psyn: Int32Array.from(B.psyn),
      synapses,
      organelles,
      bounds,
    };
  }
}

/** A 32-bit seed for one stream of one tile. */
function tileSeed(seed: number, ix: number, iy: number, iz: number, part: number): number {
  return (hash4(ix, iy, iz, (seed ^ Math.imul(part + 1, 0x3c6ef372)) | 0) * 4294967296) >>> 0;
}

/** Probability that a tile holds a soma. */
function somaChance(): number {
  const T = MODEL_CONSTANTS.tile / 1000;
  return (T * T * T) / MODEL_CONSTANTS.somaVolume;
}

/** Whether tile (ix, iy, iz) holds a soma (cheap: decides whether a far tile must be built). */
function tileHasSoma(seed: number, ix: number, iy: number, iz: number): boolean {
  return rng(tileSeed(seed, ix, iy, iz, 1))() < somaChance();
}

/** The content of tile (ix, iy, iz) for this seed: a pure function of the two. */
export function buildTile(seed: number, ix: number, iy: number, iz: number): TileContent {
  const C = MODEL_CONSTANTS;
  const T = C.tile;
  const t0: V = [ix * T, iy * T, iz * T];
  const t1: V = [t0[0] + T, t0[1] + T, t0[2] + T];
  const near = grown(t0, t1, C.reach);
  const g = new TileGen();
  const rS = rng(tileSeed(seed, ix, iy, iz, 1));
  const hasSoma = rS() < somaChance();
  if (hasSoma) {
    const type = pick(typeWeights, rS);
    const rad = type === 'pyramidal' ? between(rS, 3000, 3800) : between(rS, 2400, 3000);
    const c: V = [between(rS, t0[0], t1[0]), between(rS, t0[1], t1[1]), between(rS, t0[2], t1[2])];
    g.soma(type, c, rad, rS, grown(t0, t1, C.somaReach));
  }
  // dendrites of cells whose somata lie elsewhere, up to the wanted length per tile
  const tileUm3 = (T / 1000) ** 3;
  const wantDendrite = C.dendriteLengthDensity * tileUm3 * 1000;
  const rD = rng(tileSeed(seed, ix, iy, iz, 2));
  for (let k = 0; g.dendriteLength < wantDendrite && k < 1000; k++) {
    const type = pick(typeWeights, rD);
    const start: V = [between(rD, t0[0], t1[0]), between(rD, t0[1], t1[1]), between(rD, t0[2], t1[2])];
    const u = randomUnit(rD);
    const cell = g.B.cell(type, add(start, mul(u, -between(rD, 40000, 120000))));
    const rad = type === 'pyramidal' ? between(rD, 250, 400) : type === 'stellate' ? between(rD, 220, 350) : between(rD, 200, 320);
    g.dendriteLength += g.dendrite(cell, start, u, rad, rad * 0.8, 30000, rD, 1, near);
    g.dendriteLength += g.dendrite(cell, start, mul(u, -1), rad, rad * 0.8, 30000, rD, 1, near);
  }
  g.synapses(rng(tileSeed(seed, ix, iy, iz, 3)), rng(tileSeed(seed, ix, iy, iz, 4)));
  // passing axons (no synapse here) up to the wanted density
  const wantAxon = C.axonLengthDensity * tileUm3 * 1000;
  const rP = rng(tileSeed(seed, ix, iy, iz, 5));
  for (let k = 0; g.axonLength < wantAxon && k < 10000; k++) {
    const type = pick({ pyramidal: 0.45, stellate: 0.35, basket: 0.2 } as Record<CellType, number>, rP);
    const start: V = [between(rP, t0[0], t1[0]), between(rP, t0[1], t1[1]), between(rP, t0[2], t1[2])];
    const u = randomUnit(rP);
    const cell = g.axonCell(type, rP, start, u);
    const ra = between(rP, 40, 75);
    g.axonLength += g.axonWalk(cell, start, u, ra, rP, near);
    g.axonLength += g.axonWalk(cell, start, mul(u, -1), ra, rP, near);
  }
  const out = g.finish(tileKey(ix, iy, iz));
  // the locality every box relies on
  const bound = grown(t0, t1, (hasSoma ? C.somaReach : C.reach) + C.slack);
  for (let a = 0; a < 3; a++) {
    if (out.nPrims && (out.bounds[a] < bound[0][a] || out.bounds[a + 3] > bound[1][a])) throw new Error(`phantom tile ${ix},${iy},${iz}: geometry reaches past its bound on axis ${a}`);
  }
  return out;
}

/** Volume in µm^3 below which a volume gets one soma of its own (it expects less than one from the tiles). */
function volumeSomaParams(o: PhantomOptions): { type: CellType; c: V; rad: number; r: () => number } | undefined {
  const extent: V = [o.size[0] * o.voxelSize[0], o.size[1] * o.voxelSize[1], o.size[2] * o.voxelSize[2]];
  const volUm3 = (extent[0] * extent[1] * extent[2]) / 1e9;
  if (volUm3 >= MODEL_CONSTANTS.somaVolume) return undefined;
  const r = rng(hash4(o.seed, 0, 1, 0x50) * 4294967296);
  const type = pick(typeWeights, r);
  const rad = type === 'pyramidal' ? between(r, 3000, 3800) : between(r, 2400, 3000);
  const c: V = [between(r, 0, extent[0]), between(r, 0, extent[1]), between(r, 0, extent[2])];
  // In a volume smaller than the soma, let it bite into one face only.
  const axis = extent[0] < 3 * rad || extent[1] < 3 * rad || extent[2] < 3 * rad ? Math.floor(r() * 3) : -1;
  if (axis >= 0) {
    const side = r() < 0.5 ? 0 : 1;
    const depth = Math.min(extent[axis] * 0.2, rad);
    c[axis] = side === 0 ? depth - rad : extent[axis] - depth + rad;
    if (axis !== 2 && extent[2] < 3 * rad) c[2] = extent[2] / 2;
  }
  return { type, c, rad, r };
}

/** A small volume's own soma (undefined for volumes of at least MODEL_CONSTANTS.somaVolume µm^3). */
function buildVolumeSoma(o: PhantomOptions): TileContent | undefined {
  const v = volumeSomaParams(o);
  if (!v) return undefined;
  const g = new TileGen();
  g.soma(v.type, v.c, v.rad, v.r, grown(v.c, v.c, MODEL_CONSTANTS.somaReach));
  g.synapses(rng((o.seed ^ 0x51a9) >>> 0), rng((o.seed ^ 0xa70) >>> 0));
  return g.finish(VOLUME_SOMA_KEY);
}

function cellId(key: number, i: number): bigint {
  // Even cells: small ids (< 2^49); odd cells: MICrONS-like ids above 2^53 (neighbours differ by
  // 2, which a float64 cannot tell apart there) to exercise exact uint64 handling.
  const n = key * 4096 + i;
  return i % 2 === 0 ? BigInt(n + 1) : 864691135000000000n + BigInt(n);
}

// ------------------------------------------------------------------ the tile cache

/** Tiles kept per thread (least recently used dropped first): bounds the memory, whatever the volume. */
export const TILE_CACHE_SIZE = 400;
const tileCache = new Map<string, TileContent>();
let tileBuilds = 0;

function cachedTile(seed: number, ix: number, iy: number, iz: number): TileContent {
  const k = `${seed}|${ix}|${iy}|${iz}`;
  let t = tileCache.get(k);
  if (t) {
    tileCache.delete(k);
  } else {
    t = buildTile(seed, ix, iy, iz);
    tileBuilds++;
    while (tileCache.size >= TILE_CACHE_SIZE) tileCache.delete(tileCache.keys().next().value as string);
  }
  tileCache.set(k, t);
  return t;
}

const volumeSomaCache = new Map<string, TileContent | undefined>();
function cachedVolumeSoma(o: PhantomOptions): TileContent | undefined {
  const k = `${o.seed}|${o.size}|${o.voxelSize}`;
  if (!volumeSomaCache.has(k)) {
    if (volumeSomaCache.size > 8) volumeSomaCache.clear();
    volumeSomaCache.set(k, buildVolumeSoma(o));
  }
  return volumeSomaCache.get(k);
}

/** Tiles built by this thread so far and tiles held in its cache (for benchmarks). */
export function tileStats(): { built: number; cached: number } {
  return { built: tileBuilds, cached: tileCache.size };
}

/** Empty the tile cache (benchmarks measuring a cold build). */
export function clearTileCache(): void {
  tileCache.clear();
  volumeSomaCache.clear();
}

// ------------------------------------------------------------------ the model of a box

function checkOptions(o: PhantomOptions): void {
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) throw new UsageError(`seed ${o.seed}: expected a whole number 0..4294967295`);
  for (let i = 0; i < 3; i++) {
    if (!(Number.isInteger(o.size[i]) && o.size[i] > 0)) throw new UsageError(`size [${o.size}]: expected positive whole numbers`);
    if (!(o.voxelSize[i] > 0)) throw new UsageError(`voxel size [${o.voxelSize}]: expected positive numbers`);
  }
}

/**
 * The model serving voxel box `box` (default: the whole volume): every primitive whose surface
 * can come within `influence` of the box's grid, and every organelle overlapping it, from the
 * tiles that reach the box, in tile order; the cells and synapses they refer to.
 */
export function buildModel(o: PhantomOptions, box: Box = boxFromShape(o.size)): PhantomModel {
  checkOptions(o);
  const C = MODEL_CONSTANTS;
  const vs = o.voxelSize;
  const R = C.influence;
  const G = C.gridCell;
  // grid on the global lattice of G nm cells, covering the sample points of the box
  const origin: V = [0, 1, 2].map((a) => G * Math.floor(((box.min[a] + 0.5) * vs[a]) / G)) as V;
  const dims: V = [0, 1, 2].map((a) => Math.max(1, Math.floor(((box.max[a] - 0.5) * vs[a] - origin[a]) / G) + 1)) as V;
  const gLo = origin;
  const gHi: V = [origin[0] + dims[0] * G, origin[1] + dims[1] * G, origin[2] + dims[2] * G];
  const T = C.tile;
  const tileRange = (g: number) =>
    [0, 1, 2].map((a) => [Math.floor((gLo[a] - R - g) / T), Math.floor((gHi[a] + R + g) / T)]) as [number, number][];
  const far = tileRange(C.somaReach + C.slack);
  const nearR = tileRange(C.reach + C.slack);
  for (const [a, b] of far) if (a < -TILE_RANGE || b > TILE_RANGE) throw new UsageError(`phantom box [${box.min}]..[${box.max}] at ${vs} nm: beyond the ${TILE_RANGE * T / 1e6} mm the tiles cover`);
  const overlaps = (b: Float64Array, g: number) =>
    b[0] - g <= gHi[0] && b[3] + g >= gLo[0] && b[1] - g <= gHi[1] && b[4] + g >= gLo[1] && b[2] - g <= gHi[2] && b[5] + g >= gLo[2];
  const parts: TileContent[] = [];
  const vsoma = cachedVolumeSoma(o);
  if (vsoma && vsoma.nPrims && overlaps(vsoma.bounds, R)) parts.push(vsoma);
  for (let iz = far[2][0]; iz <= far[2][1]; iz++) {
    for (let iy = far[1][0]; iy <= far[1][1]; iy++) {
      for (let ix = far[0][0]; ix <= far[0][1]; ix++) {
        const isNear = iz >= nearR[2][0] && iz <= nearR[2][1] && iy >= nearR[1][0] && iy <= nearR[1][1] && ix >= nearR[0][0] && ix <= nearR[0][1];
        if (!isNear && !tileHasSoma(o.seed, ix, iy, iz)) continue;
        const t = cachedTile(o.seed, ix, iy, iz);
        if (t.nPrims && overlaps(t.bounds, R)) parts.push(t);
      }
    }
  }
  return assemble(o, box, parts, origin, dims);
}

/** Concatenate the parts' cells and synapses, keep the primitives and organelles near the grid, index them. */
function assemble(o: PhantomOptions, box: Box, parts: TileContent[], origin: V, dims: V): PhantomModel {
  const C = MODEL_CONSTANTS;
  const R = C.influence;
  const G = C.gridCell;
  const gLo = origin;
  const gHi: V = [origin[0] + dims[0] * G, origin[1] + dims[1] * G, origin[2] + dims[2] * G];
  const cells: CellInfo[] = [];
  const synapses: SynapseInfo[] = [];
  const organelles: OrganelleInfo[] = [];
  const pa: number[] = [];
  const pb: number[] = [];
  const pra: number[] = [];
  const prb: number[] = [];
  const pcell: number[] = [];
  const pcomp: number[] = [];
  const psyn: number[] = [];
  for (const t of parts) {
    // only the cells and synapses that a kept primitive or organelle refers to
    const cellMap = new Int32Array(t.cells.length).fill(-1);
    const synMap = new Int32Array(t.synapses.length).fill(-1);
    const useCell = (c: number): number => {
      if (cellMap[c] < 0) {
        cellMap[c] = cells.length;
        cells.push(t.cells[c]);
      }
      return cellMap[c];
    };
    const useSyn = (k: number): number => {
      if (synMap[k] < 0) {
        const s = t.synapses[k];
        synMap[k] = synapses.length;
        synapses.push({ ...s, pre: useCell(s.pre), post: useCell(s.post) });
      }
      return synMap[k];
    };
    for (let i = 0; i < t.nPrims; i++) {
      const r = Math.max(t.pra[i], t.prb[i]) + R;
      let keep = true;
      for (let a = 0; a < 3 && keep; a++) {
        const lo = Math.min(t.pa[3 * i + a], t.pb[3 * i + a]) - r;
        const hi = Math.max(t.pa[3 * i + a], t.pb[3 * i + a]) + r;
        keep = hi >= gLo[a] && lo <= gHi[a];
      }
      if (!keep) continue;
      for (let a = 0; a < 3; a++) {
        pa.push(t.pa[3 * i + a]);
        pb.push(t.pb[3 * i + a]);
      }
      pra.push(t.pra[i]);
      prb.push(t.prb[i]);
      pcell.push(useCell(t.pcell[i]));
      pcomp.push(t.pcomp[i]);
      psyn.push(t.psyn[i] < 0 ? -1 : useSyn(t.psyn[i]));
    }
    for (const g of t.organelles) {
      let keep = true;
      for (let a = 0; a < 3 && keep; a++) keep = Math.max(g.a[a], g.b[a]) + g.r + 20 >= gLo[a] && Math.min(g.a[a], g.b[a]) - g.r - 20 <= gHi[a];
      if (keep) organelles.push({ ...g, host: useCell(g.host), synapse: g.synapse < 0 ? -1 : useSyn(g.synapse) });
    }
  }
  const cellIdLo = new Uint32Array(cells.length);
  const cellIdHi = new Uint32Array(cells.length);
  cells.forEach((c, i) => {
    cellIdLo[i] = Number(c.id & 0xffffffffn);
    cellIdHi[i] = Number(c.id >> 32n);
  });
  const n = pcell.length;
  const paA = Float64Array.from(pa);
  const pbA = Float64Array.from(pb);
  const praA = Float64Array.from(pra);
  const prbA = Float64Array.from(prb);
  const nCells = dims[0] * dims[1] * dims[2];
  // Keep a primitive in a grid cell only if its surface can come within `reach` of the cell
  // (cell centre to capsule distance minus radius <= reach + half the cell diagonal).
  const halfDiag = (G * Math.sqrt(3)) / 2;
  const near = (i: number, x: number, y: number, z: number, reach: number): boolean => {
    const cx = origin[0] + (x + 0.5) * G;
    const cy = origin[1] + (y + 0.5) * G;
    const cz = origin[2] + (z + 0.5) * G;
    const ax = paA[3 * i];
    const ay = paA[3 * i + 1];
    const az = paA[3 * i + 2];
    const ux = pbA[3 * i] - ax;
    const uy = pbA[3 * i + 1] - ay;
    const uz = pbA[3 * i + 2] - az;
    const l2 = ux * ux + uy * uy + uz * uz;
    let t = l2 > 0 ? ((cx - ax) * ux + (cy - ay) * uy + (cz - az) * uz) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const d = Math.hypot(cx - ax - t * ux, cy - ay - t * uy, cz - az - t * uz) - Math.max(praA[i], prbA[i]);
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
    const r = Math.max(praA[i], prbA[i]) + R;
    for (let a = 0; a < 3; a++) {
      out[a] = Math.min(paA[3 * i + a], pbA[3 * i + a]) - r;
      out[a + 3] = Math.max(paA[3 * i + a], pbA[3 * i + a]) + r;
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
      pu[3 * i + a] = pbA[3 * i + a] - paA[3 * i + a];
      l2 += pu[3 * i + a] ** 2;
    }
    pinv[i] = l2 > 0 ? 1 / l2 : 0;
    pdr[i] = prbA[i] - praA[i];
  }
  const ns = synapses.length;
  const synContact = new Float64Array(3 * ns);
  const synDisc = new Float64Array(ns);
  const synPost = new Int32Array(ns);
  synapses.forEach((s, i) => {
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
  const vs = o.voxelSize;
  return {
    pu,
    pinv,
    pdr,
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
    box: { min: [...box.min] as V, max: [...box.max] as V },
    extent: [o.size[0] * vs[0], o.size[1] * vs[1], o.size[2] * vs[2]],
    cells,
    cellIdLo,
    cellIdHi,
    nPrims: n,
    pa: paA,
    pb: pbA,
    pra: praA,
    prb: prbA,
    pcell: Int32Array.from(pcell),
    pcomp: Uint8Array.from(pcomp),
    psyn: Int32Array.from(psyn),
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
