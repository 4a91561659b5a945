import { hash4 } from '../model.js';
import { LOOK } from './look.js';
import { NoiseTable, PointTable, smearedGaussian, valueNoise } from './noise.js';


/**
 * The sharp image: cytoplasm texture, organelles, synapse and membranes, from lattice tables over
 * one box. Every value depends only on the global position (the tables hold the same hashes in
 * every block).
 */
export class Textures {
  private readonly coarse: NoiseTable;
  private readonly fine: NoiseTable;
  private readonly mito: NoiseTable;
  private readonly granules: PointTable;
  private readonly rings: PointTable;
  private readonly vesicles: PointTable;

  private readonly x0: number;
  private readonly y0: number;
  private readonly z0: number;
  private readonly key: number;
  private readonly grainAmp: number;

  /**
   * x0, y0, z0: the box's first voxel (global voxel coordinates); vxy: the in-plane pixel area's
   * side (nm). The grain is a pixel's average of nm-scale stain grain, so its amplitude falls
   * with the pixel's side (LOOK.grain at 4 nm).
   */
  constructor(xs: Float64Array, ys: Float64Array, zs: Float64Array, seed: number, vz: number, x0: number, y0: number, z0: number, vxy: number) {
    const slab = vz / 2;
    this.grainAmp = LOOK.grain * Math.min(1.5, 4 / vxy);
    this.x0 = x0;
    this.y0 = y0;
    this.z0 = z0;
    this.key = seed ^ 0x6a11;
    this.coarse = new NoiseTable(xs, ys, zs, 110, seed ^ 0x1a2b3c);
    this.fine = new NoiseTable(xs, ys, zs, 14, seed ^ 0x4d5e6f);
    this.mito = new NoiseTable(xs, ys, zs, 45, seed ^ 0x777);
    // ribosome-like dark granules (~20 nm), and small membrane-bounded profiles (ER, microtubules
    // and stray vesicles in cross-section: dark rim, light lumen, ~30 nm)
    this.granules = new PointTable(xs, ys, zs, [32, 32, 64], seed ^ 0x3e3e, 0.35, slab);
    this.rings = new PointTable(xs, ys, zs, [80, 80, 80], seed ^ 0x2b2b, 0.5, slab);
    this.vesicles = new PointTable(xs, ys, zs, [LOOK.vesicleLattice, LOOK.vesicleLattice, LOOK.vesicleLattice], seed ^ 0x5151, 1, slab);
  }

  /**
   * Grey value of voxel (x, y, z) of the box at (px, py, pz) nm. comp: compartment of the nearest
   * primitive; mitoD: signed distance to the owning cell's nearest mitochondrion (Infinity: none
   * within reach), mitoT: position along its axis; side: 0 outside a contact disc, 1 post, 2 pre;
   * rho: squared radial position in the disc (0 centre, 1 rim); h: half the gap between the two
   * nearest surfaces; (gx, gy, gz): difference of their normals; vz: section thickness.
   */
  shade(
    x: number,
    y: number,
    z: number,
    px: number,
    py: number,
    pz: number,
    comp: number,
    mitoD: number,
    mitoT: number,
    inCloud: boolean,
    side: number,
    rho: number,
    h: number,
    gx: number,
    gy: number,
    gz: number,
    vz: number,
  ): number {
    const L = LOOK;
    const fine = this.fine.at(x, y, z);
    // stain grain: white noise per voxel (from its global position), softened by the imaging blur
    const grain = hash4(x + this.x0, y + this.y0, z + this.z0, this.key) - 0.5;
    let v = L.cytoplasm + L.coarseTexture * (this.coarse.at(x, y, z) - 0.5) + L.fineTexture * (fine - 0.5) + this.grainAmp * grain;
    if (comp === 1) v -= 12;
    else if (comp === 2) v += 4;
    else if (comp === 4) v -= 5;
    if (mitoD < L.mitoReach) {
      const m = this.mito.at(x, y, z);
      let inner = L.mitoMatrix + 40 * (fine - 0.5) + 20 * (m - 0.5);
      if (mitoD < -5) {
        // cristae: wavy lamellae across the long axis
        const ph = (mitoT + 44 * (m - 0.5)) / L.cristaPeriod;
        const e = Math.abs(ph - Math.floor(ph) - 0.5) * L.cristaPeriod; // nm to the crista's centre
        const w = 2 + 7 * fine; // crista half-thickness varies, some fade out
        if (e < w && mitoD < -9) inner += (L.cristaGrey - inner) * (1 - e / w);
        v = inner;
      }
      // double outer membrane
      const a = Math.exp(-(((mitoD + 1.5) / 2.6) ** 2));
      const b = Math.exp(-(((mitoD + 7) / 2.6) ** 2));
      const dark = a > b ? a : b;
      v += (38 - v) * dark * 0.9;
      return this.membrane(v, h, gx, gy, gz, vz);
    }
    if (inCloud) {
      const dv = this.vesicles.dist(x, y, z, px, py, pz);
      const r = L.vesicleRadius;
      if (dv < r - 6) v = 172 + 16 * (fine - 0.5);
      else if (dv < r + 1) v = 66 + 20 * (fine - 0.5);
    } else {
      const gd = this.granules.dist(x, y, z, px, py, pz);
      if (gd < 10) v -= 80 * (1 - gd / 10);
      const rd = this.rings.dist(x, y, z, px, py, pz);
      const e = rd > 21 ? rd - 21 : 21 - rd;
      const k = comp === 2 ? 1 : 0.7; // axons hold more of them
      if (e < 6) v -= 110 * k * (1 - e / 6);
      else if (rd < 21) v += 14 * k;
    }
    if (side > 0) {
      // synapse: a grey cleft (the labelled band), a thin dark presynaptic membrane, and a thick
      // postsynaptic density thinning towards the rim of the contact disc
      if (h < L.cleftHalf) return L.cleftGrey + 24 * (fine - 0.5);
      const g = h - L.cleftHalf;
      if (side === 1) {
        const t = L.psdDepth * (0.5 + 0.5 * Math.sqrt(1 - rho)) * (0.8 + 0.4 * fine);
        if (g < t) return L.psdGrey + 30 * (fine - 0.5);
        if (g < t + 6) return v + (L.psdGrey - v) * (1 - (g - t) / 6);
      } else if (g < L.preMembrane) return L.preGrey + 20 * (fine - 0.5);
      return v;
    }
    return this.membrane(v, h, gx, gy, gz, vz);
  }

  /**
   * The membrane between the two nearest cells as seen through a section of thickness vz: the
   * boundary normal (from the two nearest surfaces) gives its in-plane distance and how far it
   * smears across the section.
   */
  private membrane(v: number, h: number, gx: number, gy: number, gz: number, vz: number): number {
    if (h >= 200) return v;
    const gl = Math.sqrt(gx * gx + gy * gy + gz * gz);
    let nxy = gl > 0 ? Math.sqrt(gx * gx + gy * gy) / gl : 1;
    if (nxy < 0.15) nxy = 0.15;
    const nz = gl > 0 ? Math.abs(gz) / gl : 0;
    const hp = h / nxy;
    const w = Math.min((vz * nz) / nxy, 3 * vz);
    const mm = smearedGaussian(hp, LOOK.membraneSigma, w);
    return v * (1 - mm) + LOOK.membraneGrey * mm;
  }
}
