/**
 * The generator of one tile's content (`TileGen`): somata, dendrites with spines, axons with
 * boutons and their synapses, organelles, as primitives confined to boxes; `finish` packs them into a
 * `TileContent` with global ids.
 */
import type { Vec3 } from '../../../core/box.js';
import { MODEL_CONSTANTS, NEURON_PROFILE } from './constants.js';
import { add, between, type Confine, inside, len, lerp, mul, norm, pick, randomPerp, randomUnit, sub, type V, wiggle } from './geometry.js';
import { CELL_TYPES, type CellInfo, type CellType, COMPARTMENT, CONNECTION_RULES, EXCITATORY, type NeuronType, type OrganelleInfo, type SynapseInfo, type TargetKind } from './types.js';

export class Builder {
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

export interface Target {
  kind: TargetKind;
  post: number;
  comp: number;
  anchor: V; // spine head centre / point on the shaft axis / soma centre
  radius: number; // head / shaft / soma radius
  dir: V; // unit, from the anchor towards where the bouton sits
  confine: Confine; // the bouton and its axon stay in here
}

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
export class TileGen {
  B = new Builder();
  targets: Target[] = [];
  dendriteLength = 0;
  axonLength = 0;
  gliaLength = 0;
  /** Spines and shaft targets (so synapses) per µm of dendrite, as a multiple of the default (PhantomOptions.synapseDensity). */
  constructor(readonly synapseDensity = 1) {}

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
    const type = B.cells[cell].type as NeuronType;
    const spiny = EXCITATORY[type];
    const mitoChance = NEURON_PROFILE[type].dendriteMito;
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
      if (r() < mitoChance) this.mitoInSegment(p, q, Math.min(ra, rb), cell, r, between(r, 0.3, 0.45));
      // spines every ~0.35 µm on spiny dendrites; shaft targets on every dendrite
      const nSpines = spiny ? Math.floor((seg * this.synapseDensity) / 350 + r()) : 0;
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
      const nShaft = Math.floor((seg * this.synapseDensity) / shaftEvery + r());
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
  soma(type: NeuronType, c: V, rad: number, r: () => number, box: Confine): void {
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

  axonCell(type: NeuronType, r: () => number, through: V, u: V): number {
    return this.B.cell(type, add(through, mul(u, -between(r, 50000, 150000))));
  }

  /** An axon of `radius` from p0 along u0 until it leaves `box`, with its type's mitochondria and (synapse-free) varicosities. */
  axonWalk(cell: number, p0: V, u0: V, radius: number, r: () => number, box: Confine): number {
    const C = MODEL_CONSTANTS;
    const prof = NEURON_PROFILE[this.B.cells[cell].type as NeuronType];
    let p = p0;
    let u = u0;
    let length = 0;
    while (inside(p, box) && length < 60000) {
      const seg = C.segment * between(r, 1, 2);
      const nu = wiggle(u, 0.3, r);
      const q = add(p, mul(nu, seg));
      this.B.prim(p, q, radius, radius, cell, COMPARTMENT.axon);
      if (r() < prof.axonMito) this.mitoInSegment(p, q, radius, cell, r, 0.6);
      if (r() < prof.varicosity) {
        const c = lerp3(p, q, between(r, 0.2, 0.8));
        const rv = radius * between(r, 1.8, 2.6);
        this.B.prim(c, c, rv, rv, cell, COMPARTMENT.axon);
        if (r() < prof.boutonMito) {
          const d = mul(randomPerp(nu, r), 0.35 * rv);
          this.B.organelles.push({ kind: 'mitochondrion', host: cell, a: sub(c, d), b: add(c, d), r: 0.35 * rv, synapse: -1 });
        }
      }
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
      pre: NeuronType;
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
      if (type === 'glia') continue;
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
        const ra = between(rAx, ...NEURON_PROFILE[type].axonRadius);
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
          if (rAx() < NEURON_PROFILE[type].boutonMito) {
            const m = add(b.c, mul(t.dir, 0.45 * b.rb));
            const d = mul(randomPerp(t.dir, rAx), 0.3 * b.rb);
            B.organelles.push({ kind: 'mitochondrion', host: cell, a: sub(m, d), b: add(m, d), r: 0.3 * b.rb, synapse: -1 });
          }
        }
        this.axonLength += this.axonWalk(cell, lastC, u0, ra, rAx, box);
      }
    }
  }

  /**
   * A glial (astrocytic) process: short, strongly turning segments of irregular radius (25-90 nm),
   * branching often; no synapses, no mitochondria, no vesicle clouds; compartment `none` (glia are
   * neither axon nor dendrite, so node and synapse compartment scores leave them out).
   */
  gliaProcess(cell: number, start: V, dir: V, maxLen: number, r: () => number, depth: number, box: Confine): number {
    let p = start;
    let u = dir;
    let length = 0;
    let radius = between(r, 25, 90);
    while (length < maxLen && inside(p, box)) {
      const seg = between(r, 150, 300);
      const nu = wiggle(u, 0.7, r);
      const q = add(p, mul(nu, seg));
      const next = between(r, 25, 90);
      this.B.prim(p, q, radius, next, cell, COMPARTMENT.none);
      if (depth < 3 && r() < 0.12) length += this.gliaProcess(cell, q, wiggle(randomPerp(nu, r), 0.5, r), maxLen * 0.5, r, depth + 1, box);
      p = q;
      u = nu;
      radius = next;
      length += seg;
    }
    return length;
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

export function cellId(key: number, i: number): bigint {
  // Even cells: small ids (< 2^49); odd cells: MICrONS-like ids above 2^53 (neighbours differ by
  // 2, which a float64 cannot tell apart there) to exercise exact uint64 handling.
  const n = key * 4096 + i;
  return i % 2 === 0 ? BigInt(n + 1) : 864691135000000000n + BigInt(n);
}

function lerp3(a: Vec3, b: Vec3, t: number): V {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}
