/** The model of a voxel box: the tiles that can reach it, cut to the primitives near it, with a uniform grid index. */
import { type Box, boxFromShape } from '../../../core/box.js';
import { UsageError } from '../../../core/errors.js';
import { cachedTile, cachedVolumeSoma } from './cache.js';
import { MODEL_CONSTANTS, TILE_RANGE } from './constants.js';
import { dot, sub, type V } from './geometry.js';
import type { TileContent } from './tile-generator.js';
import { tileHasSoma } from './tile.js';
import type { CellInfo, OrganelleInfo, PhantomModel, PhantomOptions, SynapseInfo } from './types.js';

export function checkOptions(o: PhantomOptions): void {
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) throw new UsageError(`seed ${o.seed}: expected a whole number 0..4294967295`);
  for (let i = 0; i < 3; i++) {
    if (!(Number.isInteger(o.size[i]) && o.size[i] > 0)) throw new UsageError(`size [${o.size}]: expected positive whole numbers`);
    if (!(o.voxelSize[i] > 0)) throw new UsageError(`voxel size [${o.voxelSize}]: expected positive numbers`);
  }
  const d = o.synapseDensity ?? 1;
  if (!(d >= MIN_SYNAPSE_DENSITY && d <= MAX_SYNAPSE_DENSITY)) throw new UsageError(`synapse density ${o.synapseDensity}: expected a factor in [${MIN_SYNAPSE_DENSITY}, ${MAX_SYNAPSE_DENSITY}] (1 = the default density)`);
}

/** Range of the synapse density factor (beyond 6 the dendrites of one tile crowd out its other cells). */
export const MIN_SYNAPSE_DENSITY = 0.1;
export const MAX_SYNAPSE_DENSITY = 6;

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
        const t = cachedTile(o.seed, ix, iy, iz, o.synapseDensity ?? 1);
        if (t.nPrims && overlaps(t.bounds, R)) parts.push(t);
      }
    }
  }
  return assemble(o, box, parts, origin, dims);
}

/** The parts' primitives near the grid [gLo, gHi] and organelles overlapping it, with the cells and synapses they refer to (renumbered). */
function gatherParts(parts: TileContent[], gLo: V, gHi: V) {
  const R = MODEL_CONSTANTS.influence;
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
  return { cells, synapses, organelles, pa, pb, pra, prb, pcell, pcomp, psyn };
}

/**
 * Uniform grid index (CSR: start per grid cell, items) of the primitives whose surface can come
 * within `influence` of a grid cell, and of the organelles overlapping one (+ 20 nm).
 */
function gridIndex(origin: V, dims: V, paA: Float64Array, pbA: Float64Array, praA: Float64Array, prbA: Float64Array, organelles: OrganelleInfo[]) {
  const R = MODEL_CONSTANTS.influence;
  const G = MODEL_CONSTANTS.gridCell;
  const n = praA.length;
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
  return { primStart, primItems, orgStart, orgItems };
}

/** Per primitive: axis b - a, 1 / |b - a|^2, radius change. */
function primitiveAxes(paA: Float64Array, pbA: Float64Array, praA: Float64Array, prbA: Float64Array) {
  const n = praA.length;
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
  return { pu, pinv, pdr };
}

/** Synapse contact points, disc radii and postsynaptic cells, as typed arrays. */
function synapseArrays(synapses: SynapseInfo[]) {
  const ns = synapses.length;
  const synContact = new Float64Array(3 * ns);
  const synDisc = new Float64Array(ns);
  const synPost = new Int32Array(ns);
  synapses.forEach((s, i) => {
    synContact.set(s.contact, 3 * i);
    synDisc[i] = s.discRadius;
    synPost[i] = s.post;
  });
  return { synContact, synDisc, synPost };
}

/** Organelle axes, radii, hosts and kinds (0 mitochondrion, 1 vesicle cloud), as typed arrays. */
function organelleArrays(organelles: OrganelleInfo[]) {
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
  return { oa, ou, oinv, or, ohost, okind };
}

/** Concatenate the parts' cells and synapses, keep the primitives and organelles near the grid, index them. */
export function assemble(o: PhantomOptions, box: Box, parts: TileContent[], origin: V, dims: V): PhantomModel {
  const R = MODEL_CONSTANTS.influence;
  const G = MODEL_CONSTANTS.gridCell;
  const gHi: V = [origin[0] + dims[0] * G, origin[1] + dims[1] * G, origin[2] + dims[2] * G];
  const { cells, synapses, organelles, pa, pb, pra, prb, pcell, pcomp, psyn } = gatherParts(parts, origin, gHi);
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
  const { primStart, primItems, orgStart, orgItems } = gridIndex(origin, dims, paA, pbA, praA, prbA, organelles);
  const { pu, pinv, pdr } = primitiveAxes(paA, pbA, praA, prbA);
  const { synContact, synDisc, synPost } = synapseArrays(synapses);
  const { oa, ou, oinv, or, ohost, okind } = organelleArrays(organelles);
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
