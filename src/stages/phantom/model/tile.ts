/** One tile's content from (seed, tile index) only, and the own soma of a volume smaller than one soma's share. */
import { MODEL_CONSTANTS, NEURON_PROFILE, passingAxonWeights, tileKey, typeWeights, VOLUME_SOMA_KEY } from './constants.js';
import { add, between, grown, mul, pick, randomUnit, type V } from './geometry.js';
import { hash4, rng } from './random.js';
import { type TileContent, TileGen } from './tile-generator.js';
import type { NeuronType, PhantomOptions } from './types.js';

/** A 32-bit seed for one stream of one tile. */
export function tileSeed(seed: number, ix: number, iy: number, iz: number, part: number): number {
  return (hash4(ix, iy, iz, (seed ^ Math.imul(part + 1, 0x3c6ef372)) | 0) * 4294967296) >>> 0;
}

/** Probability that a tile holds a soma. */
export function somaChance(): number {
  const T = MODEL_CONSTANTS.tile / 1000;
  return (T * T * T) / MODEL_CONSTANTS.somaVolume;
}

/** Whether tile (ix, iy, iz) holds a soma (cheap: decides whether a far tile must be built). */
export function tileHasSoma(seed: number, ix: number, iy: number, iz: number): boolean {
  return rng(tileSeed(seed, ix, iy, iz, 1))() < somaChance();
}

/** The content of tile (ix, iy, iz) for this seed (and synapse density factor): a pure function of them. */
export function buildTile(seed: number, ix: number, iy: number, iz: number, synapseDensity = 1): TileContent {
  const C = MODEL_CONSTANTS;
  const T = C.tile;
  const t0: V = [ix * T, iy * T, iz * T];
  const t1: V = [t0[0] + T, t0[1] + T, t0[2] + T];
  const near = grown(t0, t1, C.reach);
  const g = new TileGen(synapseDensity);
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
    const type = pick(passingAxonWeights, rP);
    const start: V = [between(rP, t0[0], t1[0]), between(rP, t0[1], t1[1]), between(rP, t0[2], t1[2])];
    const u = randomUnit(rP);
    const cell = g.axonCell(type, rP, start, u);
    const ra = between(rP, ...NEURON_PROFILE[type].axonRadius);
    g.axonLength += g.axonWalk(cell, start, u, ra, rP, near);
    g.axonLength += g.axonWalk(cell, start, mul(u, -1), ra, rP, near);
  }
  // glial processes (a stream of their own), up to the wanted length
  const wantGlia = C.gliaLengthDensity * tileUm3 * 1000;
  const rG = rng(tileSeed(seed, ix, iy, iz, 6));
  for (let k = 0; g.gliaLength < wantGlia && k < 1000; k++) {
    const start: V = [between(rG, t0[0], t1[0]), between(rG, t0[1], t1[1]), between(rG, t0[2], t1[2])];
    const u = randomUnit(rG);
    const cell = g.B.cell('glia', add(start, mul(u, -between(rG, 5000, 20000))));
    g.gliaLength += g.gliaProcess(cell, start, u, 3000, rG, 0, near);
    g.gliaLength += g.gliaProcess(cell, start, mul(u, -1), 3000, rG, 0, near);
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
export function volumeSomaParams(o: PhantomOptions): { type: NeuronType; c: V; rad: number; r: () => number } | undefined {
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
export function buildVolumeSoma(o: PhantomOptions): TileContent | undefined {
  const v = volumeSomaParams(o);
  if (!v) return undefined;
  const g = new TileGen(o.synapseDensity ?? 1);
  g.soma(v.type, v.c, v.rad, v.r, grown(v.c, v.c, MODEL_CONSTANTS.somaReach));
  g.synapses(rng((o.seed ^ 0x51a9) >>> 0), rng((o.seed ^ 0xa70) >>> 0));
  return g.finish(VOLUME_SOMA_KEY);
}
