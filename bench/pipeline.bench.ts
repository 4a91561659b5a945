// The whole chain, stage by stage: predict (cleft/vesicle/mitochondrion and boundary forests),
// supervoxels, agglomeration, synapses + organelles, cells, meshes, skeletons on a phantom
// (PIPELINE_SIZE, default 512,512,128 at 8x8x30 nm, seed 7) with pixel models trained on another
// phantom (seed 101; PIPELINE_TRAIN_SIZE) before the clock starts, with 1 and 2 workers
// (PIPELINE_WORKERS=1,2). Per stage: wall and CPU seconds (the whole process, all threads),
// Mvox per CPU second, peak RSS, the 2-worker speed-up; the total; core-hours and cost per
// teravoxel at PIPELINE_PRICE $/core-hour (default 0.05, an on-demand cloud vCPU). Beside it,
// in the same run, scikit-image's watershed on the same boundary map (the supervoxel stage's
// reference; its input and seeds differ in detail, so only the time is compared).
// Writes bench/out/pipeline.json and docs/PIPELINE.md (generated: do not edit by hand).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const MAIN = path.join(root, 'dist', 'cli', 'main.js');
import { CLASS as CLASS_VALUES } from '../src/stages/classes/classes.js';

/** Runs `wiring args` in a child process; wall, CPU (user + system, all threads) and peak RSS of that process. */
function wiring(args: string[]): { wall: number; cpu: number; rss_mb: number; out: string } {
  const t = performance.now();
  const r = spawnSync(process.execPath, [path.join(here, 'wiring-usage.mjs')], { env: { ...process.env, WIRING_ARGS: JSON.stringify(args) }, encoding: 'utf8', maxBuffer: 1 << 28 });
  const wall = (performance.now() - t) / 1000;
  const m = /@@usage (\{.*\})/.exec(r.stderr ?? '');
  const u = m ? (JSON.parse(m[1]) as { cpu: number; rss: number; code: number }) : undefined;
  if (r.status !== 0 || !u || u.code !== 0) throw new Error(`wiring ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return { wall, cpu: u.cpu, rss_mb: u.rss, out: r.stdout };
}

const WS_REF = String.raw`
import sys, time, json, numpy as np
from skimage.segmentation import watershed
from skimage.measure import label
import scipy.ndimage as ndi
a = np.load(sys.argv[1])
if a.ndim == 4: a = a[0]
b = a.astype(np.float32) / 255.0
t = time.perf_counter(); c = time.process_time()
out = np.zeros(b.shape, np.uint32); n = 0
for z in range(b.shape[0]):
    s = ndi.gaussian_filter(b[z], 1.0)
    m = label(s < 0.1)
    w = watershed(s, m)
    out[z] = np.where(w > 0, w + n, 0); n += int(w.max())
print(json.dumps({'seconds': time.perf_counter() - t, 'cpu_seconds': time.process_time() - c, 'segments': n}))
`;

interface StageRow {
  stage: string;
  workers: number;
  wall: number;
  cpu: number;
  mvox_per_cpu_s: number;
  rss_mb: number;
}

export default async function bench(): Promise<Record<string, unknown>> {
  if (!existsSync(MAIN)) throw new Error('dist/cli/main.js missing: run `npm run build:src` first');
  const size = (process.env.PIPELINE_SIZE ?? '512,512,128').split(',').map(Number);
  const trainSize = process.env.PIPELINE_TRAIN_SIZE ?? '192,192,48';
  const workersList = (process.env.PIPELINE_WORKERS ?? '1,2').split(',').map(Number);
  const price = Number(process.env.PIPELINE_PRICE ?? 0.05);
  const voxels = size[0] * size[1] * size[2];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wiring-pipeline-bench-'));
  const p = (...s: string[]) => path.join(tmp, ...s);
  try {
    // untimed: the models, trained on another phantom
    console.log(`setup: training phantom ${trainSize} (seed 101), pixel and boundary forests; test phantom ${size.join(',')} (seed 7)`);
    wiring(['phantom', p('train'), '--size', trainSize, '--seed', '101']);
    wiring(['classes', p('train', 'classes'), '--neurons', p('train', 'neurons'), '--clefts', p('train', 'clefts'), '--vesicles', p('train', 'vesicles'), '--mitochondria', p('train', 'mitochondria')]);
    const model = process.env.PIPELINE_MODEL ?? p('pixels.forest');
    const bmodel = process.env.PIPELINE_BOUNDARY_MODEL ?? p('boundary.forest');
    const trained = process.env.PIPELINE_MODEL
      ? { labelValues: (process.env.PIPELINE_CLASSES ?? '1,2,3,4,5').split(',') }
      : (JSON.parse(wiring(['train-pixels', '--raw', p('train', 'raw'), '--labels', p('train', 'classes'), '-o', model, '--trees', '32', '--samples', '60000', '--json']).out) as { labelValues?: unknown[]; classes?: unknown[] });
    // the channels of the cleft, vesicle and mitochondrion classes (label values of `wiring classes`)
    const labels = (trained.labelValues ?? trained.classes ?? []).map(String);
    const ch = (v: number) => {
      const c = labels.indexOf(String(v));
      if (c < 0) throw new Error(`the pixel model has no class ${v} (classes ${labels.join(', ')})`);
      return c;
    };
    if (!process.env.PIPELINE_BOUNDARY_MODEL) wiring(['train-pixels', '--raw', p('train', 'raw'), '--gt', p('train', 'neurons'), '-o', bmodel, '--trees', '32', '--samples', '60000']);
    wiring(['phantom', p('truth'), '--size', size.join(','), '--seed', '7']);
    const rows: StageRow[] = [];
    const out: Record<string, unknown> = { size, voxels, train_size: trainSize, price_per_core_hour: price, machine: `${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'})`, loadavg_start: os.loadavg().map((x) => +x.toFixed(2)) };
    for (const w of workersList) {
      const ds = p(`ds${w}`);
      const W = ['--workers', String(w)];
      const stages: Array<[string, string[]]> = [
        ['predict (5 classes)', ['predict', '--raw', p('truth', 'raw'), '--model', model, path.join(ds, 'probabilities'), '--dtype', 'uint8', ...W]],
        ['predict (boundaries)', ['predict', '--raw', p('truth', 'raw'), '--model', bmodel, path.join(ds, 'boundaries'), '--dtype', 'uint8', ...W]],
        ['supervoxels', ['supervoxels', '--boundaries', path.join(ds, 'boundaries'), path.join(ds, 'supervoxels'), '--2d', ...W]],
        ['agglomeration', ['agglomerate', '--supervoxels', path.join(ds, 'supervoxels'), '--boundaries', path.join(ds, 'boundaries'), path.join(ds, 'segmentation')]],
        ['synapses + organelles', ['synapses', path.join(ds, 'connectome.duckdb'), '--clefts', `${path.join(ds, 'probabilities')}?channel=${ch(CLASS_VALUES.cleft)}`, '--vesicles', `${path.join(ds, 'probabilities')}?channel=${ch(CLASS_VALUES.vesicle)}`, '--mitochondria', `${path.join(ds, 'probabilities')}?channel=${ch(CLASS_VALUES.mitochondrion)}`, '--segmentation', path.join(ds, 'segmentation'), ...W]],
        ['cells', ['cells', path.join(ds, 'segmentation'), path.join(ds, 'connectome.duckdb'), '--replace', ...W]],
        ['meshes', ['mesh', path.join(ds, 'segmentation'), ...W]],
        ['skeletons', ['skeletonize', path.join(ds, 'segmentation'), ...W]],
      ];
      for (const [stage, args] of stages) {
        const r = wiring(args);
        const row: StageRow = { stage, workers: w, wall: +r.wall.toFixed(2), cpu: +r.cpu.toFixed(2), mvox_per_cpu_s: +(voxels / 1e6 / r.cpu).toFixed(3), rss_mb: Math.round(r.rss_mb) };
        rows.push(row);
        console.log(`${w} worker(s) ${stage}: ${row.wall} s wall, ${row.cpu} s CPU, ${row.mvox_per_cpu_s} Mvox/CPU-s, ${row.rss_mb} MB peak`);
      }
    }
    out.stages = rows;
    const totals = workersList.map((w) => {
      const rs = rows.filter((r) => r.workers === w);
      const wall = rs.reduce((a, r) => a + r.wall, 0);
      const cpu = rs.reduce((a, r) => a + r.cpu, 0);
      const coreHoursPerTvox = (cpu / voxels) * 1e12 / 3600;
      return { workers: w, wall: +wall.toFixed(1), cpu: +cpu.toFixed(1), mvox_per_cpu_s: +(voxels / 1e6 / cpu).toFixed(3), core_hours_per_teravoxel: Math.round(coreHoursPerTvox), dollars_per_teravoxel: Math.round(coreHoursPerTvox * price) };
    });
    out.totals = totals;
    // the supervoxel stage's reference on the same boundary map
    let ref: { seconds: number; cpu_seconds: number; segments: number } | undefined;
    try {
      const npy = p('boundaries.npy');
      wiring(['export', path.join(p(`ds${workersList[0]}`), 'boundaries'), npy]);
      ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', WS_REF, npy], { encoding: 'utf8' }));
      out.reference_skimage_watershed_2d = ref;
    } catch (err) {
      out.reference_skimage_watershed_2d = `not run: ${(err as Error).message.split('\n')[0]}`;
    }
    writeDoc(out, rows, totals, ref);
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function writeDoc(out: Record<string, unknown>, rows: StageRow[], totals: Array<Record<string, number>>, ref?: { seconds: number; cpu_seconds: number }): void {
  const ws = [...new Set(rows.map((r) => r.workers))];
  const stages = [...new Set(rows.map((r) => r.stage))];
  const get = (s: string, w: number) => rows.find((r) => r.stage === s && r.workers === w);
  const head = ['stage', ...ws.flatMap((w) => [`wall s (${w}w)`, `CPU s (${w}w)`, `Mvox/CPU-s (${w}w)`, `peak MB (${w}w)`]), ...(ws.length > 1 ? [`speed-up ${ws[ws.length - 1]}w/${ws[0]}w`] : [])];
  const lines = [
    '# Whole-pipeline throughput',
    '',
    `Generated by \`npm run bench pipeline\` on ${new Date().toISOString().slice(0, 10)}; do not edit by hand. Phantom ${(out.size as number[]).join('x')} voxels at 8x8x30 nm (seed 7), pixel models trained on a phantom of seed 101 (${out.train_size}) before the clock starts. ${out.machine}; load average at start ${(out.loadavg_start as number[]).join(', ')} (other jobs on the machine inflate wall times).`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...stages.map((s) => {
      const cells = ws.flatMap((w) => {
        const r = get(s, w)!;
        return [r.wall, r.cpu, r.mvox_per_cpu_s, r.rss_mb];
      });
      const sp = ws.length > 1 ? [(get(s, ws[0])!.wall / get(s, ws[ws.length - 1])!.wall).toFixed(2)] : [];
      return `| ${s} | ${[...cells, ...sp].join(' | ')} |`;
    }),
    '',
    '| workers | wall s | CPU s | Mvox/CPU-s | core-hours per teravoxel | $ per teravoxel |',
    '|---|---|---|---|---|---|',
    ...totals.map((t) => `| ${t.workers} | ${t.wall} | ${t.cpu} | ${t.mvox_per_cpu_s} | ${t.core_hours_per_teravoxel} | ${t.dollars_per_teravoxel} |`),
    '',
    `Cost at $${out.price_per_core_hour} per core-hour. SyConn2 reports 34 Mvox/h per core (0.0094 Mvox/CPU-s) for annotation alone and about $2,000 per teravoxel.`,
    '',
    ref ? `Reference in the same run: scikit-image watershed per section on the same boundary map (Gaussian 1, seeds below 0.1): ${ref.seconds.toFixed(2)} s wall, ${ref.cpu_seconds.toFixed(2)} s CPU, beside our supervoxel stage's ${get('supervoxels', ws[0])!.cpu} CPU s (which includes reading and writing the layers).` : 'Reference: scikit-image was not available in this run.',
    '',
    'Kernel and stage speed-ups behind these figures (connected components, recursive Gaussian features, the mesh stage\'s phases, the pixel forest\'s trees/depth curve): [THROUGHPUT.md](THROUGHPUT.md).',
    '',
  ];
  writeFileSync(path.join(root, 'docs', 'PIPELINE.md'), lines.join('\n'));
}
