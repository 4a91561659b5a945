/**
 * Rasterising the phantom model (the tiled rasteriser; ./reference.ts is its plain specification) over a box of voxels: labels (cell, compartment, mitochondrion,
 * vesicle cloud, cleft) and the sharp EM-like intensity, each voxel a pure function of its global
 * position, the model and the seed (never of the block), so blocks agree wherever they overlap.
 *
 * Speed: the box is cut into small tiles inside one grid cell each; per tile, a primitive whose
 * surface distance is provably larger than the second-nearest cell's everywhere in the tile (a
 * Lipschitz bound from the tile centre) is dropped before the per-voxel loop, which then sees only
 * a few primitives. The per-voxel result is exactly that of the plain loop over the grid cell's
 * list (`rasterizeLabelsReference`): same nearest and second-nearest primitive, same ties. Textures
 * read hashed lattice values tabulated once per box (the same values every block computes).
 */
import { type Box, boxShape } from '../../../core/box.js';
import type { PhantomModel } from '../model.js';
import { LOOK, type RasterFields } from './look.js';
import { PK, packed, synPre } from './pack.js';
import { Textures } from './textures.js';

/** Voxel centres (nm) along one axis, and runs of voxels in one grid cell of at most `tile` voxels. */
function axisPlan(lo: number, hi: number, v: number, origin: number, G: number, dims: number, tile: number) {
  const n = hi - lo;
  const pos = new Float64Array(n);
  const runs: number[] = []; // start, end, grid index (-1 outside)
  let start = 0;
  let cur = 0;
  for (let k = 0; k < n; k++) {
    const p = (lo + k + 0.5) * v;
    pos[k] = p;
    let g = Math.floor((p - origin) / G);
    if (g < 0 || g >= dims) g = -1;
    if (k === 0) cur = g;
    else if (g !== cur || k - start >= tile) {
      runs.push(start, k, cur);
      start = k;
      cur = g;
    }
  }
  if (n > 0) runs.push(start, n, cur);
  return { pos, runs };
}

/** Tile edge (voxels) along an axis of voxel size v: about 64 nm, at least one voxel. */
const tileOf = (v: number) => Math.max(1, Math.round(64 / v));

/** Slack (nm) on the pruning bounds: far above float rounding, far below any geometric scale. */
const EPS = 1e-3;

/**
 * One rasterize call's state shared by its tiles: the model, voxel centres, outputs, textures,
 * and the scratch lists of the current tile's surviving primitives and organelles.
 *
 *     box (voxels) --axisPlan--> runs per axis --> tiles (<= ~64 nm, inside one grid cell)
 *     per tile:  pruneTile  (grid cell's primitives -> the few that can be nearest / second nearest)
 *                rasterTile (each voxel: nearest two cells, organelles, cleft, intensity)
 */
interface TileState {
  m: PhantomModel;
  pk: Float64Array;
  pre: Int32Array;
  sx: number;
  sy: number;
  xs: Float64Array;
  ys: Float64Array;
  zs: Float64Array;
  out: RasterFields;
  tex: Textures | undefined;
  vz: number;
  /** Surviving primitives (the first `ns`) and organelles (the first `no`) of the current tile. */
  surv: Int32Array;
  orgs: Int32Array;
  /** Lower bounds of the grid cell's primitives over the tile. */
  lb: Float64Array;
}

/** A tile outside the model's grid: extracellular, background grey. */
function outsideTile(tile: TileState, x0: number, x1: number, y0: number, y1: number, z0: number, z1: number): void {
  const { sx, sy } = tile;
  const { cell: cellOut, raw } = tile.out;
  for (let z = z0; z < z1; z++)
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) {
        const o = x + sx * (y + sy * z);
        cellOut[o] = -1;
        if (raw) raw[o] = 120;
      }
}

/**
 * The primitives of grid cell `g` that can be nearest or second nearest somewhere in the tile (a
 * primitive whose surface distance is provably larger than the second-nearest cell's everywhere
 * in the tile is dropped: a Lipschitz bound from the tile centre), and the organelles whose
 * surface can come within reach. Fills tile.surv / tile.orgs; returns their counts.
 */
function pruneTile(tile: TileState, g: number, x0: number, x1: number, y0: number, y1: number, z0: number, z1: number): { ns: number; no: number } {
  const { xs, ys, zs, pk } = tile;
  const { pcell, primStart, primItems, orgStart, orgItems, oa, ou, oinv, or, okind } = tile.m;
  const { mitoReach } = LOOK;
  const cx = 0.5 * (xs[x0] + xs[x1 - 1]);
  const cy = 0.5 * (ys[y0] + ys[y1 - 1]);
  const cz = 0.5 * (zs[z0] + zs[z1 - 1]);
  const ex = 0.5 * (xs[x1 - 1] - xs[x0]);
  const ey = 0.5 * (ys[y1 - 1] - ys[y0]);
  const ez = 0.5 * (zs[z1 - 1] - zs[z0]);
  const rad = Math.sqrt(ex * ex + ey * ey + ez * ez);
  const k0 = primStart[g];
  const k1 = primStart[g + 1];
  if (tile.surv.length < k1 - k0) tile.surv = new Int32Array(2 * (k1 - k0));
  const surv = tile.surv;
  let u1 = Infinity;
  let u2 = Infinity;
  let cu = -1;
  if (tile.lb.length < k1 - k0) tile.lb = new Float64Array(2 * (k1 - k0));
  const scratchLb = tile.lb;
  // first pass: each primitive's lower bound over the tile, and an upper bound on the
  // second-nearest cell's distance anywhere in the tile (min over cells of their best upper
  // bound, the second of the two best distinct cells)
  for (let k = k0; k < k1; k++) {
    const i = primItems[k];
    const q = PK * i;
    const wx = cx - pk[q];
    const wy = cy - pk[q + 1];
    const wz = cz - pk[q + 2];
    const ux = pk[q + 3];
    const uy = pk[q + 4];
    const uz = pk[q + 5];
    let t = (wx * ux + wy * uy + wz * uz) * pk[q + 6];
    if (t < 0) t = 0;
    else if (t > 1) t = 1;
    const dx = wx - t * ux;
    const dy = wy - t * uy;
    const dz = wz - t * uz;
    const d = Math.sqrt(dx * dx + dy * dy + dz * dz) - (pk[q + 7] + t * pk[q + 8]);
    const lip = pk[q + 9] * rad;
    const ub = d + lip + EPS;
    scratchLb[k - k0] = d - lip - EPS;
    const c = pcell[i];
    if (ub < u1) {
      if (c !== cu) u2 = u1;
      u1 = ub;
      cu = c;
    } else if (ub < u2 && c !== cu) u2 = ub;
  }
  let ns = 0;
  for (let k = k0; k < k1; k++) if (scratchLb[k - k0] <= u2) surv[ns++] = primItems[k];
  // organelles: the ones whose surface can come within reach of the tile
  const j0 = orgStart[g];
  const j1 = orgStart[g + 1];
  if (tile.orgs.length < j1 - j0) tile.orgs = new Int32Array(2 * (j1 - j0));
  const orgs = tile.orgs;
  let no = 0;
  for (let k = j0; k < j1; k++) {
    const i = orgItems[k];
    const i3 = 3 * i;
    const wx = cx - oa[i3];
    const wy = cy - oa[i3 + 1];
    const wz = cz - oa[i3 + 2];
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
    if (d - rad - EPS <= (okind[i] === 0 ? mitoReach : 0)) orgs[no++] = i;
  }
  return { ns, no };
}

/** Each voxel of the tile: the two nearest cells among the survivors, its organelle, cleft and intensity. */
function rasterTile(tile: TileState, ns: number, no: number, x0: number, x1: number, y0: number, y1: number, z0: number, z1: number): void {
  const { xs, ys, zs, pk, pre, surv, orgs, sx, sy, tex, vz } = tile;
  const { pcell, pcomp, psyn, oa, ou, oinv, or, ohost, okind, synContact, synDisc, synPost } = tile.m;
  const R = tile.m.influence;
  const { ecsHalf, cleftHalf, mitoReach } = LOOK;
  const { cell: cellOut, comp: compOut, mito: mitoOut, cloud: cloudOut, cleft: cleftOut, raw } = tile.out;
  for (let z = z0; z < z1; z++) {
    const pz = zs[z];
    for (let y = y0; y < y1; y++) {
      const py = ys[y];
      let o = x0 + sx * (y + sy * z);
      for (let x = x0; x < x1; x++, o++) {
        const px = xs[x];
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
        for (let k = 0; k < ns; k++) {
          const i = surv[k];
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
        for (let k = 0; k < no; k++) {
          const i = orgs[k];
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
        // radial position in the contact disc: 0 centre, 1 rim (>= 1 outside)
        let rho = 2;
        if (syn >= 0) {
          const s3 = 3 * syn;
          const disc = synDisc[syn];
          rho = ((px - synContact[s3]) ** 2 + (py - synContact[s3 + 1]) ** 2 + (pz - synContact[s3 + 2]) ** 2) / (disc * disc);
          if (rho < 1 && h < cleftHalf) cleftOut[o] = syn;
        }
        if (!raw) continue;
        raw[o] = tex!.shade(
          x,
          y,
          z,
          px,
          py,
          pz,
          pcomp[p1],
          mito >= 0 && mitoD < mitoReach ? mitoD : Infinity,
          mitoT,
          cloud >= 0,
          rho < 1 ? (c1 === synPost[syn] ? 1 : c1 === pre[syn] ? 2 : 3) : 0,
          rho,
          h,
          n1x - n2x,
          n1y - n2y,
          n1z - n2z,
          vz,
        );
      }
    }
  }
}

/** Scratch shared by calls (grown on demand; rasterize is synchronous). */
let scratch: { surv: Int32Array; orgs: Int32Array; lb: Float64Array } = { surv: new Int32Array(64), orgs: new Int32Array(16), lb: new Float64Array(4096) };

/**
 * Rasterise `box` (voxels). Voxel p samples nm (p + 0.5) * voxelSize. With `raw`, also the sharp
 * intensity (grey levels as float).
 */
export function rasterize(m: PhantomModel, box: Box, withRaw: boolean): RasterFields {
  const [sx, sy, sz] = boxShape(box);
  const n = sx * sy * sz;
  const out: RasterFields = {
    box,
    cell: new Int32Array(n),
    comp: new Uint8Array(n),
    mito: new Int32Array(n).fill(-1),
    cloud: new Int32Array(n).fill(-1),
    cleft: new Int32Array(n).fill(-1),
    raw: withRaw ? new Float32Array(n) : undefined,
  };
  if (n === 0) return out;
  const [vx, vy, vz] = m.options.voxelSize;
  const G = m.gridCell;
  const [ox, oy, oz] = m.gridOrigin;
  const [gdx, gdy, gdz] = m.gridDims;
  const ax = axisPlan(box.min[0], box.max[0], vx, ox, G, gdx, tileOf(vx));
  const ay = axisPlan(box.min[1], box.max[1], vy, oy, G, gdy, tileOf(vy));
  const az = axisPlan(box.min[2], box.max[2], vz, oz, G, gdz, tileOf(vz));
  // textures (hashed lattices tabulated over this box)
  const tex = withRaw ? new Textures(ax.pos, ay.pos, az.pos, m.options.seed | 0, vz, box.min[0], box.min[1], box.min[2], Math.sqrt(vx * vy)) : undefined;
  const tile: TileState = { m, pk: packed(m), pre: synPre(m), sx, sy, xs: ax.pos, ys: ay.pos, zs: az.pos, out, tex, vz, ...scratch };
  for (let rz = 0; rz < az.runs.length; rz += 3) {
    const [z0, z1, gz] = [az.runs[rz], az.runs[rz + 1], az.runs[rz + 2]];
    for (let ry = 0; ry < ay.runs.length; ry += 3) {
      const [y0, y1, gy] = [ay.runs[ry], ay.runs[ry + 1], ay.runs[ry + 2]];
      for (let rx = 0; rx < ax.runs.length; rx += 3) {
        const [x0, x1, gx] = [ax.runs[rx], ax.runs[rx + 1], ax.runs[rx + 2]];
        if (gx < 0 || gy < 0 || gz < 0) {
          outsideTile(tile, x0, x1, y0, y1, z0, z1);
          continue;
        }
        const { ns, no } = pruneTile(tile, gx + gdx * (gy + gdy * gz), x0, x1, y0, y1, z0, z1);
        rasterTile(tile, ns, no, x0, x1, y0, y1, z0, z1);
      }
    }
  }
  scratch = { surv: tile.surv, orgs: tile.orgs, lb: tile.lb };
  return out;
}
