// Alignment memory: the solve streams sections, so its memory must not grow with the stack's
// depth. A stack generated on demand (one real vnc-sstem section, shifted per z by a known
// amount, never held whole) is aligned at 8 and at 32 sections (ALIGN_MEMORY_Z); the peak of
// heap + array buffers seen after each section of each pass is printed, and with node
// --expose-gc the live memory after a forced collection, per pass. (Measured under load; memory, not speed.)
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Volume } from '../src/core/volume.js';
import type { VolumeSource } from '../src/formats/source.js';
import { bilinear, image } from '../src/stages/align/image.js';
import { alignStack } from '../src/stages/align/solve.js';
import { readSlice } from '../src/stages/align/testing.js';
import { pullback } from '../src/stages/align/transform.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = process.env.WIRING_DATA ?? path.resolve(here, '../../shared/data');

export default async function bench(): Promise<Record<string, unknown>> {
  const s = await readSlice(path.join(DATA, 'vnc-sstem/stack2/raw/00.tif'));
  const base = image(s.w, s.h, s.data);
  const w = 768;
  const h = 768;
  const shift = (z: number): [number, number] => [((z * 37) % 13) - 6 + 0.25 * (z % 3), ((z * 53) % 11) - 5];
  const lazy = (nz: number): VolumeSource => ({
    url: `lazy-${nz}`, format: 'memory', dtype: 'float32', shape: [w, h, nz], channels: 1, voxelSize: [4.6, 4.6, 50], offset: [0, 0, 0], chunkShape: [w, h, 1],
    async read(b) {
      const v = Volume.zeros('float32', b);
      let o = 0;
      for (let z = b.min[2]; z < b.max[2]; z++) {
        const [dx, dy] = shift(z);
        for (let y = b.min[1]; y < b.max[1]; y++) for (let x = b.min[0]; x < b.max[0]; x++) v.data[o++] = bilinear(base, 128 + x + dx, 128 + y + dy) || 0;
      }
      return v;
    },
    async close() {},
  });
  const out: Record<string, unknown> = {};
  // ALIGN_MEMORY_Z=8,32,64 (default 8,32); with node --expose-gc the live memory (after a forced
  // collection) is sampled at every section of every pass: what the solve holds, not its garbage
  const depths = (process.env.ALIGN_MEMORY_Z ?? '8,32').split(',').map(Number);
  for (const nz of depths) {
    globalThis.gc?.();
    const m0 = process.memoryUsage();
    let peak = 0;
    const live: Record<string, number> = { chain: 0, elastic: 0, quality: 0 };
    const res = await alignStack(lazy(nz), { elastic: true }, undefined, (pass) => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - m0.heapUsed - m0.arrayBuffers);
      if (globalThis.gc) {
        globalThis.gc();
        const g = process.memoryUsage();
        live[pass] = Math.max(live[pass], g.heapUsed + g.arrayBuffers - m0.heapUsed - m0.arrayBuffers);
      }
    });
    // raw_z(q) = base(128 + q + d_z): the frame of section 0 needs T_z(p) = p + d_0 - d_z
    const worst = Math.max(...res.transforms.sections.map((t, z) => {
      const [x, y] = pullback(t, w / 2, h / 2);
      return Math.hypot(x - w / 2 - (shift(0)[0] - shift(z)[0]), y - h / 2 - (shift(0)[1] - shift(z)[1]));
    }));
    const mb = (x: number) => +(x / 2 ** 20).toFixed(2);
    const liveMb = globalThis.gc ? { chain: mb(live.chain), elastic: mb(live.elastic), quality: mb(live.quality) } : null;
    out[`z${nz}`] = { peak_mb: mb(peak), live_mb: liveMb, worst_shift_error_px: +worst.toFixed(3) };
    console.log(
      `${nz} sections of ${w}x${h}: peak heap+buffers growth ${mb(peak)} MB (sampled, garbage included); live after gc, largest per pass: ` +
        (liveMb ? `chain ${liveMb.chain} MB, elastic ${liveMb.elastic} MB, quality ${liveMb.quality} MB` : 'n/a (run with node --expose-gc)') +
        `; worst shift error ${worst.toFixed(3)} px`,
    );
  }
  return out;
}
