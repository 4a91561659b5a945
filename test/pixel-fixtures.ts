/** Small labelled volumes the pixel-classifier tests train on. */
import * as path from 'node:path';
import { Volume } from '../src/core/volume.js';
import { writeNpy } from '../src/formats/npy.js';

/**
 * 10 dark disks (class 2) on a noisy bright background (class 1) in 48x48x4 voxels of 4x4x40 nm,
 * every voxel labelled (seeded), written as `dir`/raw.npy and `dir`/lab.npy.
 */
export async function writeDiskLabels(dir: string): Promise<{ raw: Volume<'uint8'>; lab: Volume<'uint8'>; shape: [number, number, number] }> {
  const shape: [number, number, number] = [48, 48, 4];
  const raw = Volume.zeros('uint8', shape, { voxelSize: [4, 4, 40] });
  const lab = Volume.zeros('uint8', shape, { voxelSize: [4, 4, 40] });
  let r = 12345;
  const rnd = (): number => ((r = (r * 1103515245 + 12345) % 2147483648) / 2147483648);
  const disks = Array.from({ length: 10 }, () => [4 + rnd() * 40, 4 + rnd() * 40, 2 + rnd() * 3]);
  for (let z = 0, i = 0; z < 4; z++) for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++, i++) {
    const inside = disks.some(([cx, cy, rr]) => (x - cx) ** 2 + (y - cy) ** 2 <= rr * rr);
    lab.data[i] = inside ? 2 : 1;
    raw.data[i] = Math.max(0, Math.min(255, Math.round((inside ? 110 : 160) + (rnd() - 0.5) * 120)));
  }
  await writeNpy(path.join(dir, 'raw.npy'), raw);
  await writeNpy(path.join(dir, 'lab.npy'), lab);
  return { raw, lab, shape };
}

/** `wiring train-pixels` on the disks writeDiskLabels wrote into `dir` (4x4x40 nm), the model written to `model`, then `options`. */
export function diskTrainArgs(dir: string, model: string, ...options: string[]): string[] {
  return ['train-pixels', '--raw', path.join(dir, 'raw.npy'), '--labels', path.join(dir, 'lab.npy'), '-o', model, '--voxel-size', '4,4,40', ...options];
}
