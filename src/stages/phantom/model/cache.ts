/** The per-thread LRU tile cache: memory bounded whatever the volume. */
import type { TileContent } from './tile-generator.js';
import { buildTile, buildVolumeSoma } from './tile.js';
import type { PhantomOptions } from './types.js';

/** Tiles kept per thread (least recently used dropped first): bounds the memory, whatever the volume. */
export const TILE_CACHE_SIZE = 400;
export const tileCache = new Map<string, TileContent>();
export let tileBuilds = 0;

export function cachedTile(seed: number, ix: number, iy: number, iz: number, synapseDensity = 1): TileContent {
  const k = `${seed}|${synapseDensity}|${ix}|${iy}|${iz}`;
  let t = tileCache.get(k);
  if (t) {
    tileCache.delete(k);
  } else {
    t = buildTile(seed, ix, iy, iz, synapseDensity);
    tileBuilds++;
    while (tileCache.size >= TILE_CACHE_SIZE) tileCache.delete(tileCache.keys().next().value as string);
  }
  tileCache.set(k, t);
  return t;
}

export const volumeSomaCache = new Map<string, TileContent | undefined>();
export function cachedVolumeSoma(o: PhantomOptions): TileContent | undefined {
  const k = `${o.seed}|${o.size}|${o.voxelSize}|${o.synapseDensity ?? 1}`;
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
