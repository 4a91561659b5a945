// `npm run bench phantom`: generation speed of `wiring phantom` (all six layers + tables) with 1
// and 2 worker threads on the same volume; the two datasets must be byte-identical. There is no
// reference implementation to compare against: the ratio printed is 2 workers vs 1.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePhantom } from '../src/stages/phantom/generate.js';
import { PHANTOM_LAYERS, type PhantomParams } from '../src/stages/phantom/tasks.js';

async function digest(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const layer of PHANTOM_LAYERS) {
    const files: string[] = [];
    const walk = async (d: string) => {
      for (const e of await fs.readdir(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (!e.name.includes('.tmp-')) files.push(p);
      }
    };
    await walk(path.join(dir, layer));
    for (const f of files.sort()) {
      h.update(path.relative(dir, f));
      h.update(await fs.readFile(f));
    }
  }
  return h.digest('hex');
}

export default async function run() {
  const size = (process.env.PHANTOM_BENCH_SIZE ?? '512,512,64').split(',').map(Number) as [number, number, number];
  const params: PhantomParams = { seed: 1, size, voxelSize: [8, 8, 30] };
  const voxels = size[0] * size[1] * size[2];
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'phantom-bench-'));
  const rows: Record<string, unknown>[] = [];
  const digests: string[] = [];
  try {
    for (const workers of [2, 1]) {
      const dir = path.join(tmp, `w${workers}`);
      const load = os.loadavg()[0];
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await generatePhantom(dir, params, { chunkSize: [64, 64, 32], run: { workers } });
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      digests.push(await digest(dir));
      const row = {
        workers,
        size,
        seconds: +seconds.toFixed(1),
        megavoxels_per_s: +(voxels / 1e6 / seconds).toFixed(3),
        extrapolated_1gv_minutes: +((1e9 / voxels) * seconds / 60).toFixed(1),
        main_thread_cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(1),
        cells: r.tables.cells.length,
        synapses: r.tables.synapses.length,
        load_average_before: +load.toFixed(1),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
      await fs.rm(dir, { recursive: true, force: true });
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  if (digests[0] !== digests[1]) throw new Error('phantom: 1-worker and 2-worker datasets differ');
  const ratio = (rows[1].seconds as number) / (rows[0].seconds as number);
  console.log(`identical bytes with 1 and 2 workers; 2 workers ${ratio.toFixed(2)}x faster than 1`);
  return { rows, identical: true, speedup_2_vs_1: +ratio.toFixed(2) };
}
