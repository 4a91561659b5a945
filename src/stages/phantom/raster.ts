/**
 * Rasterising the phantom model over a box of voxels: labels (cell, compartment, mitochondrion,
 * vesicle cloud, cleft) and the sharp EM-like intensity, each voxel a pure function of its global
 * position, the model and the seed (never of the block), so blocks agree wherever they overlap.
 */
import { type Box, boxShape } from '../../core/box.js';
import { type PhantomModel, hash4 } from './model.js';

/** Appearance constants (nm, grey levels). Documented in docs/PHANTOM.md. */
export const LOOK = {
  /** Voxels where the two nearest cells' surfaces tie within 2*ecsHalf nm are extracellular space. */
  ecsHalf: 0.6,
  /** Membrane darkness exp(-(h/membraneSigma)^2), h = half the gap between the two nearest surfaces. */
  membraneSigma: 10,
  membraneGrey: 38,
  /** Cleft: h below this within the contact disc (nm). */
  cleftHalf: 10,
  /** Postsynaptic density: this deep (nm) into the post cell within the contact disc. */
  psdDepth: 32,
  cytoplasm: 166,
  vesicleLattice: 46,
  vesicleRadius: 19,
};

export interface RasterFields {
  box: Box;
  /** Cell index, -1 for extracellular space. */
  cell: Int32Array;
  comp: Uint8Array;
  /** Organelle indices (-1 none). */
  mito: Int32Array;
  cloud: Int32Array;
  /** Synapse index (-1 none). */
  cleft: Int32Array;
  /** Sharp intensity (before blur and noise), only when asked. */
  raw?: Float32Array;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/** Value noise in [0, 1) on a lattice of `cell` nm (trilinear, smoothstep), keyed by `key`. */
export function valueNoise(px: number, py: number, pz: number, cell: number, key: number): number {
  const fx = px / cell;
  const fy = py / cell;
  const fz = pz / cell;
  const ix = Math.floor(fx);
  const iy = Math.floor(fy);
  const iz = Math.floor(fz);
  const tx = smooth(fx - ix);
  const ty = smooth(fy - iy);
  const tz = smooth(fz - iz);
  const c000 = hash4(ix, iy, iz, key);
  const c100 = hash4(ix + 1, iy, iz, key);
  const c010 = hash4(ix, iy + 1, iz, key);
  const c110 = hash4(ix + 1, iy + 1, iz, key);
  const c001 = hash4(ix, iy, iz + 1, key);
  const c101 = hash4(ix + 1, iy, iz + 1, key);
  const c011 = hash4(ix, iy + 1, iz + 1, key);
  const c111 = hash4(ix + 1, iy + 1, iz + 1, key);
  const a = c000 + (c100 - c000) * tx;
  const b = c010 + (c110 - c010) * tx;
  const c = c001 + (c101 - c001) * tx;
  const d = c011 + (c111 - c011) * tx;
  const e = a + (b - a) * ty;
  const f = c + (d - c) * ty;
  return e + (f - e) * tz;
}

/** erf, Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

/** exp(-(x/sigma)^2) averaged over a window of width w centred on x (w = 0: the Gaussian itself). */
export function smearedGaussian(x: number, sigma: number, w: number): number {
  if (w < 0.5) return Math.exp(-((x / sigma) ** 2));
  return ((sigma * Math.sqrt(Math.PI)) / (2 * w)) * (erf((x + w / 2) / sigma) - erf((x - w / 2) / sigma));
}

/** Distance (nm) from p to the nearest vesicle centre of the jittered lattice (8 candidate cells). */
function vesicleDistance(px: number, py: number, pz: number, key: number, sparse = false): number {
  const L = LOOK.vesicleLattice;
  const fx = px / L - 0.5;
  const fy = py / L - 0.5;
  const fz = pz / L - 0.5;
  const ix = Math.floor(fx);
  const iy = Math.floor(fy);
  const iz = Math.floor(fz);
  let best = Infinity;
  for (let dz = 0; dz < 2; dz++) {
    for (let dy = 0; dy < 2; dy++) {
      for (let dx = 0; dx < 2; dx++) {
        const cx = ix + dx;
        const cy = iy + dy;
        const cz = iz + dz;
        // one hash per lattice cell; its bits give the three jitters
        const h = (hash4(cx, cy, cz, key) * 4294967296) >>> 0;
        // sparse: a quarter of the cells hold a point, jittered over most of the cell
        if (sparse && h >>> 30 !== 0) continue;
        const spread = sparse ? 0.8 : 0.4;
        const base = sparse ? 0.1 : 0.3;
        const jx = (cx + base + spread * ((h & 1023) / 1023)) * L;
        const jy = (cy + base + spread * (((h >>> 10) & 1023) / 1023)) * L;
        const jz = (cz + base + spread * (((h >>> 20) & 1023) / 1023)) * L;
        const d = (px - jx) ** 2 + (py - jy) ** 2 + (pz - jz) ** 2;
        if (d < best) best = d;
      }
    }
  }
  return Math.sqrt(best);
}

/** Primitive fields interleaved (a, b - a, 1/|b-a|^2, ra, rb - ra), so one primitive is one cache line or two. */
const PK = 9;
const packCache = new WeakMap<PhantomModel, Float64Array>();
function packed(m: PhantomModel): Float64Array {
  let pk = packCache.get(m);
  if (!pk) {
    pk = new Float64Array(PK * m.nPrims);
    for (let i = 0; i < m.nPrims; i++) {
      for (let a = 0; a < 3; a++) {
        pk[PK * i + a] = m.pa[3 * i + a];
        pk[PK * i + 3 + a] = m.pu[3 * i + a];
      }
      pk[PK * i + 6] = m.pinv[i];
      pk[PK * i + 7] = m.pra[i];
      pk[PK * i + 8] = m.pdr[i];
    }
    packCache.set(m, pk);
  }
  return pk;
}

/**
 * Rasterise `box` (voxels). Voxel p samples nm (p + 0.5) * voxelSize. With `raw`, also the sharp
 * intensity (grey levels as float).
 */
export function rasterize(m: PhantomModel, box: Box, withRaw: boolean): RasterFields {
  const [sx, sy, sz] = boxShape(box);
  const n = sx * sy * sz;
  const cellOut = new Int32Array(n);
  const compOut = new Uint8Array(n);
  const mitoOut = new Int32Array(n).fill(-1);
  const cloudOut = new Int32Array(n).fill(-1);
  const cleftOut = new Int32Array(n).fill(-1);
  const raw = withRaw ? new Float32Array(n) : undefined;
  const [vx, vy, vz] = m.options.voxelSize;
  const seed = m.options.seed | 0;
  const { pcell, pcomp, psyn, primStart, primItems, orgStart, orgItems } = m;
  const pk = packed(m);
  const { oa, ou, oinv, or, ohost, okind, synContact, synDisc, synPost } = m;
  const G = m.gridCell;
  const [ox, oy, oz] = m.gridOrigin;
  const [gdx, gdy, gdz] = m.gridDims;
  const R = m.influence;
  const { ecsHalf, membraneSigma, membraneGrey, cleftHalf, psdDepth, cytoplasm, vesicleRadius } = LOOK;
  const keyA = seed ^ 0x1a2b3c;
  const keyB = seed ^ 0x4d5e6f;
  const keyM = seed ^ 0x777;
  const keyV = seed ^ 0x5151;
  const keyS = seed ^ 0x3e3e;
  let o = 0;
  for (let z = box.min[2]; z < box.max[2]; z++) {
    const pz = (z + 0.5) * vz;
    const gz = Math.floor((pz - oz) / G);
    for (let y = box.min[1]; y < box.max[1]; y++) {
      const py = (y + 0.5) * vy;
      const gy = Math.floor((py - oy) / G);
      for (let x = box.min[0]; x < box.max[0]; x++, o++) {
        const px = (x + 0.5) * vx;
        const gx = Math.floor((px - ox) / G);
        if (gx < 0 || gy < 0 || gz < 0 || gx >= gdx || gy >= gdy || gz >= gdz) {
          cellOut[o] = -1;
          if (raw) raw[o] = 120;
          continue;
        }
        const g = gx + gdx * (gy + gdy * gz);
        let b1 = Infinity;
        let b2 = Infinity;
        let c1 = -1;
        let p1 = -1;
        let p2 = -1;
        let n1x = 0;
        let n1y = 0;
        let n1z = 0;
        let n2x = 0;
        let n2y = 0;
        let n2z = 0;
        for (let k = primStart[g], e = primStart[g + 1]; k < e; k++) {
          const i = primItems[k];
          const q = PK * i;
          const wx = px - pk[q];
          const wy = py - pk[q + 1];
          const wz = pz - pk[q + 2];
          const ux = pk[q + 3];
          const uy = pk[q + 4];
          const uz = pk[q + 5];
          let t = (wx * ux + wy * uy + wz * uz) * pk[q + 6];
          if (t < 0) t = 0;
          else if (t > 1) t = 1;
          const dx = wx - t * ux;
          const dy = wy - t * uy;
          const dz = wz - t * uz;
          const dl = Math.sqrt(dx * dx + dy * dy + dz * dz);
          const d = dl - (pk[q + 7] + t * pk[q + 8]);
          const c = pcell[i];
          if (d < b1) {
            if (c !== c1) {
              b2 = b1;
              p2 = p1;
              n2x = n1x;
              n2y = n1y;
              n2z = n1z;
            }
            b1 = d;
            c1 = c;
            p1 = i;
            const inv = dl > 0 ? 1 / dl : 0;
            n1x = dx * inv;
            n1y = dy * inv;
            n1z = dz * inv;
          } else if (d < b2 && c !== c1) {
            b2 = d;
            p2 = i;
            const inv = dl > 0 ? 1 / dl : 0;
            n2x = dx * inv;
            n2y = dy * inv;
            n2z = dz * inv;
          }
        }
        if (p1 < 0 || b1 > R) {
          cellOut[o] = -1;
          if (raw) raw[o] = 120;
          continue;
        }
        const h = p2 < 0 ? 1e9 : (b2 - b1) * 0.5;
        const label = h < ecsHalf ? -1 : c1;
        cellOut[o] = label;
        compOut[o] = label >= 0 ? pcomp[p1] : 0;
        // organelles of the owning cell
        let mitoD = Infinity;
        let mito = -1;
        let cloud = -1;
        let mitoT = 0;
        for (let k = orgStart[g], e = orgStart[g + 1]; k < e; k++) {
          const i = orgItems[k];
          if (ohost[i] !== c1) continue;
          const i3 = 3 * i;
          const wx = px - oa[i3];
          const wy = py - oa[i3 + 1];
          const wz = pz - oa[i3 + 2];
          const ux = ou[i3];
          const uy = ou[i3 + 1];
          const uz = ou[i3 + 2];
          let t = (wx * ux + wy * uy + wz * uz) * oinv[i];
          if (t < 0) t = 0;
          else if (t > 1) t = 1;
          const dx = wx - t * ux;
          const dy = wy - t * uy;
          const dz = wz - t * uz;
          const d = Math.sqrt(dx * dx + dy * dy + dz * dz) - or[i];
          if (okind[i] === 0) {
            if (d < mitoD) {
              mitoD = d;
              mito = i;
              mitoT = (wx * ux + wy * uy + wz * uz) * Math.sqrt(oinv[i]);
            }
          } else if (d < 0 && cloud < 0) cloud = i;
        }
        const inMito = label >= 0 && mitoD < 0;
        if (inMito) mitoOut[o] = mito;
        else if (label >= 0 && cloud >= 0) cloudOut[o] = cloud;
        // synaptic contact between the two nearest cells
        let syn = -1;
        if (p2 >= 0) {
          // a bouton and (any part of) its target cell are the two nearest cells
          const s1 = psyn[p1];
          if (s1 >= 0 && pcell[p2] === synPost[s1]) syn = s1;
          else {
            const s2 = psyn[p2];
            if (s2 >= 0 && c1 === synPost[s2]) syn = s2;
          }
        }
        let psd = false;
        if (syn >= 0) {
          const s3 = 3 * syn;
          const dc = (px - synContact[s3]) ** 2 + (py - synContact[s3 + 1]) ** 2 + (pz - synContact[s3 + 2]) ** 2;
          const disc = synDisc[syn];
          if (dc < disc * disc) {
            if (h < cleftHalf) cleftOut[o] = syn;
            if (c1 === synPost[syn] && h < psdDepth) psd = true;
          }
        }
        if (!raw) continue;
        // ---- intensity
        let v =
          cytoplasm +
          34 * (valueNoise(px, py, pz, 90, keyA) - 0.5) +
          30 * (valueNoise(px, py, pz, 24, keyB) - 0.5);
        // small dark granules (ribosomes, microtubule cross-sections)
        const gd = vesicleDistance(px * 1.6, py * 1.6, pz * 0.5, keyS, true);
        if (gd < 22) v -= 55 * (1 - gd / 22);
        const comp = pcomp[p1];
        if (comp === 1) v -= 10;
        else if (comp === 2) v += 6;
        else if (comp === 4) v -= 4;
        if (mito >= 0 && mitoD < 9) {
          if (mitoD < -7) {
            // matrix with cristae: stripes across the long axis, broken up by noise
            const stripe = 0.5 + 0.5 * Math.sin(mitoT * 0.2 + 7 * valueNoise(px, py, pz, 60, keyM));
            v = 88 + 34 * stripe * valueNoise(px, py, pz, 30, keyM + 3) + 26 * (valueNoise(px, py, pz, 12, keyM + 7) - 0.5);
          } else {
            // double outer membrane
            v = Math.min(v, 48 + 30 * Math.abs(mitoD + 1) / 8);
          }
        } else if (cloud >= 0) {
          const dv = vesicleDistance(px, py, pz, keyV);
          if (dv < vesicleRadius - 5) v = 150;
          else if (dv < vesicleRadius + 2) v = 78;
          else v -= 14;
        }
        if (psd) v = v * 0.35 + 22;
        // Membrane as seen through a section of thickness vz: the boundary normal (from the two
        // nearest surfaces) gives its in-plane distance and how far it smears across the section.
        let mm = 0;
        if (h < 200) {
          const gx2 = n1x - n2x;
          const gy2 = n1y - n2y;
          const gz2 = n1z - n2z;
          const gl = Math.sqrt(gx2 * gx2 + gy2 * gy2 + gz2 * gz2);
          let nxy = gl > 0 ? Math.sqrt(gx2 * gx2 + gy2 * gy2) / gl : 1;
          if (nxy < 0.15) nxy = 0.15;
          const nz = gl > 0 ? Math.abs(gz2) / gl : 0;
          const hp = h / nxy;
          const w = Math.min((vz * nz) / nxy, 3 * vz);
          mm = smearedGaussian(hp, membraneSigma, w);
        }
        v = v * (1 - mm) + membraneGrey * mm;
        raw![o] = v;
      }
    }
  }
  return { box, cell: cellOut, comp: compOut, mito: mitoOut, cloud: cloudOut, cleft: cleftOut, raw };
}
