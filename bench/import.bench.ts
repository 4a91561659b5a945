// Import throughput: read the gala-medulla PNG slice stack and its HDF5 raw volume (whole volume,
// several repetitions), ours (openSource: png.ts with sharp for other PNGs / hdf5-chunks.ts with
// h5wasm for other layouts) vs Python (PIL + numpy / h5py) on the same files in the same run.
// Checksums (sha256 of the z,y,x uint8 bytes) must agree. Wall medians and CPU medians (process
// CPU, every thread: ours uses the libuv pool for inflate) are both recorded.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { dataPath, tempDir } from '../test/data.js';
import { boxFromShape } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { exportVolume } from '../src/formats/export.js';
import { openSource } from '../src/formats/open.js';
import type { VolumeSource } from '../src/formats/source.js';

const REPS = 20;

const PY = String.raw`
import sys, time, hashlib, json, os
import numpy as np
from PIL import Image
import h5py
kind, src, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []; cpus = []; digest = None; nbytes = 0
for r in range(reps):
    t = time.perf_counter(); c = time.process_time()
    if kind == 'png':
        files = sorted(f for f in os.listdir(src) if f.endswith('.png'))
        a = np.stack([np.asarray(Image.open(os.path.join(src, f))) for f in files])
    else:
        fn, ds = src.split('#')
        with h5py.File(fn, 'r') as f:
            a = f[ds][:]
    dt = time.perf_counter() - t
    times.append(dt); cpus.append(time.process_time() - c)
    nbytes = a.nbytes
    digest = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
times.sort(); cpus.sort()
print(json.dumps({'best_s': times[0], 'median_s': times[len(times) // 2], 'cpu_median_s': cpus[len(cpus) // 2], 'bytes': nbytes, 'sha256': digest}))
`;

async function ours(spec: string, reps: number): Promise<{ best_s: number; median_s: number; cpu_median_s: number; bytes: number; sha256: string }> {
  const times: number[] = [];
  const cpus: number[] = [];
  let digest = '';
  let bytes = 0;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    const c0 = process.cpuUsage();
    const src = await openSource(spec);
    const v = await src.read(boxFromShape(src.shape, src.offset));
    await src.close();
    const dt = (performance.now() - t) / 1000;
    times.push(dt);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1e6);
    const b = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    bytes = b.length;
    digest = createHash('sha256').update(b).digest('hex');
  }
  times.sort((x, y) => x - y);
  cpus.sort((x, y) => x - y);
  return { best_s: times[0], median_s: times[times.length >> 1], cpu_median_s: cpus[cpus.length >> 1], bytes, sha256: digest };
}

export default async function run(): Promise<unknown> {
  const png = dataPath('gala-medulla/train-image-png');
  const h5 = dataPath('gala-medulla/train-image.h5');
  if (!existsSync(png) || !existsSync(h5)) {
    console.log(`skipped: ${dataPath('gala-medulla')} not found`);
    return { skipped: true };
  }
  const onDisk = {
    png: readdirSync(png).reduce((a, f) => a + statSync(path.join(png, f)).size, 0),
    hdf5: statSync(h5).size,
  };
  // A larger input made from the real raw: the 200x100x50 volume tiled to 512x512x64, written
  // as PNG slices and as gzip HDF5 (chunks 64^3) by our exporters.
  const rawSrc = await openSource(`${h5}#stack`);
  const raw = await rawSrc.read(boxFromShape([200, 100, 50]));
  await rawSrc.close();
  const big = Volume.zeros('uint8', [512, 512, 64]);
  const bd = big.data as Uint8Array, rd = raw.data as Uint8Array;
  for (let z = 0; z < 64; z++)
    for (let y = 0; y < 512; y++)
      for (let x = 0; x < 512; x++) bd[x + 512 * (y + 512 * z)] = rd[(x % 200) + 200 * ((y % 100) + 100 * (z % 50))];
  const mem: VolumeSource = {
    url: 'tiled', format: 'memory', dtype: 'uint8', shape: big.shape, channels: 1, voxelSize: [1, 1, 1], offset: [0, 0, 0], chunkShape: big.shape,
    read: async (b) => big.crop(b), close: async () => {},
  };
  const tmp = await tempDir('wiring-bench-');
  await exportVolume(mem, path.join(tmp, 'png'));
  await exportVolume(mem, path.join(tmp, 'big.h5#stack'));
  const cases: Array<[string, 'png' | 'h5', string, number]> = [
    ['PNG slices (50 x 200x100 uint8)', 'png', png, REPS],
    ['HDF5 gzip chunked (200x100x50 uint8)', 'h5', `${h5}#stack`, REPS],
    ['PNG slices (64 x 512x512 uint8, tiled raw)', 'png', path.join(tmp, 'png'), 5],
    ['HDF5 gzip 64^3 chunks (512x512x64 uint8, tiled raw)', 'h5', path.join(tmp, 'big.h5#stack'), 5],
  ];
  const out: Record<string, unknown> = {};
  for (const [i, [label, kind, spec, reps]] of cases.entries()) {
    const a = await ours(spec, reps);
    const p = JSON.parse(execFileSync('/usr/bin/python3', ['-c', PY, kind === 'png' ? 'png' : 'h5', spec, String(reps)], { encoding: 'utf8' })) as typeof a;
    const agree = a.sha256 === p.sha256 && a.bytes === p.bytes;
    if (!agree) throw new Error(`${label}: checksums differ (ours ${a.sha256}, python ${p.sha256})`);
    const mb = a.bytes / 1e6;
    const row = {
      voxels_mb: mb,
      ours_mb_s: +(mb / a.median_s).toFixed(1),
      python_mb_s: +(mb / p.median_s).toFixed(1),
      ours_best_mb_s: +(mb / a.best_s).toFixed(1),
      python_best_mb_s: +(mb / p.best_s).toFixed(1),
      ratio_ours_over_python: +(p.median_s / a.median_s).toFixed(2),
      ours_cpu_ms: +(a.cpu_median_s * 1000).toFixed(1),
      python_cpu_ms: +(p.cpu_median_s * 1000).toFixed(1),
      cpu_ratio_python_over_ours: +(p.cpu_median_s / a.cpu_median_s).toFixed(2),
      sha256: a.sha256,
      reference: kind === 'png' ? 'PIL 9.4 + numpy' : 'h5py 3.7',
    };
    console.log(`${label}: median ours ${row.ours_mb_s} MB/s, python ${row.python_mb_s} MB/s (ours/python speed ${row.ratio_ours_over_python}x; best ${row.ours_best_mb_s} vs ${row.python_best_mb_s}; CPU ms ${row.ours_cpu_ms} vs ${row.python_cpu_ms}), checksums equal`);
    out[i < 2 ? kind : `${kind}_512x512x64`] = { label, reps, ...row };
  }
  await fs.rm(tmp, { recursive: true, force: true });
  return { on_disk_bytes: onDisk, ...out, note: 'MB/s from the median of reps (best also given); CPU ms: median process CPU per rep (all threads); open + whole-volume read each rep; 2-core shared machine, loaded' };
}
