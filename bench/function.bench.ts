// Structure–function benchmark: a functional join and a like-to-like analysis over ~1M ordered
// cell pairs (FUNCTION_BENCH_CELLS coregistered cells, default 1000) in a connectome of
// FUNCTION_BENCH_SYNAPSES synapses (default 10M) among 100k cells; the same analysis in pandas/numpy
// (Debian python3-pandas) on the same rows in the same run. Both must give the same pairs and
// connected pairs per orientation bin and the same distance-matched null; the ratio is printed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { seededRandom } from '../src/connectome/graph.js';
import { ConnectomeStore } from '../src/connectome/store.js';
import { likeToLike } from '../src/connectome/function/structure-function.js';
import { importAnnotationTable } from '../src/connectome/function/tables.js';

const PANDAS = String.raw`
import sys, time, json, numpy as np, pandas as pd
d = sys.argv[1]; nd = int(sys.argv[2]); nb = int(sys.argv[3])
t0 = time.perf_counter(); c0 = time.process_time()
co = pd.read_csv(d + '/coreg.csv'); tu = pd.read_csv(d + '/tuning.csv')
cells = pd.DataFrame({'pt_root_id': np.fromfile(d + '/cellid.bin', dtype='<u8'), 'x': np.fromfile(d + '/x.bin', dtype='<f8'), 'y': np.fromfile(d + '/y.bin', dtype='<f8'), 'z': np.fromfile(d + '/z.bin', dtype='<f8')})
co['pt_root_id'] = co['pt_root_id'].astype('uint64')
f = co.merge(tu, on=['session', 'scan_idx', 'unit_id']).merge(cells, on='pt_root_id').sort_values('pt_root_id').reset_index(drop=True)
t_load = time.perf_counter() - t0
t1 = time.perf_counter()
pre = np.fromfile(d + '/pre.bin', dtype='<u8'); post = np.fromfile(d + '/post.bin', dtype='<u8')
idx = pd.Series(np.arange(len(f)), index=f['pt_root_id'].to_numpy())
i = idx.reindex(pre).to_numpy(); j = idx.reindex(post).to_numpy()
keep = ~np.isnan(i) & ~np.isnan(j) & (pre != post)
n = len(f)
conn = np.zeros((n, n), dtype=bool)
conn[i[keep].astype(np.int64), j[keep].astype(np.int64)] = True
deg = f['pref_ori'].to_numpy() * 180 / np.pi
dth = np.abs(deg[:, None] - deg[None, :]) % 180
dth = np.where(dth > 90, 180 - dth, dth)
xyz = f[['x', 'y', 'z']].to_numpy()
dist = np.sqrt(((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(-1))
off = ~np.eye(n, dtype=bool)
v = dth[off]; dd = dist[off]; cc = conn[off]
edges = np.linspace(0, 90, nb + 1)
dedges = np.quantile(dd, np.linspace(0, 1, nd + 1))
fb = np.digitize(v, edges[1:-1]); db = np.digitize(dd, dedges[1:-1])
pairs = np.zeros((nb, nd)); con = np.zeros((nb, nd))
np.add.at(pairs, (fb, db), 1); np.add.at(con, (fb, db), cc)
pd_ = con.sum(0) / pairs.sum(0)
null = (pairs * pd_[None, :]).sum(1) / pairs.sum(1)
t_an = time.perf_counter() - t1
print(json.dumps({'cells': n, 'load_join_s': t_load, 'analysis_s': t_an, 'total_s': time.perf_counter() - t0, 'cpu_s': time.process_time() - c0,
  'pairs': pairs.sum(1).tolist(), 'connected': con.sum(1).tolist(), 'null': null.tolist()}))
`;

export default async function bench(): Promise<Record<string, unknown>> {
  const N = Number(process.env.FUNCTION_BENCH_SYNAPSES ?? 10_000_000);
  const NF = Number(process.env.FUNCTION_BENCH_CELLS ?? 1000);
  const NCELL = 100_000;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wiring-function-bench-'));
  try {
    const r = seededRandom(7);
    const BASE = 864691135000000000n;
    const cellId = new BigUint64Array(NCELL);
    const x = new Float64Array(NCELL), y = new Float64Array(NCELL), z = new Float64Array(NCELL);
    for (let i = 0; i < NCELL; i++) {
      cellId[i] = BASE + BigInt(i) * 13n;
      x[i] = r() * 1e6;
      y[i] = r() * 8e5;
      z[i] = r() * 1e6;
    }
    // functional cells: the first NF, packed into a 400 µm cube so they connect; orientation per cell
    const ori = new Float64Array(NF);
    for (let i = 0; i < NF; i++) {
      x[i] = r() * 4e5;
      y[i] = r() * 4e5;
      z[i] = r() * 4e5;
      ori[i] = r() * Math.PI;
    }
    const pre = new BigUint64Array(N), post = new BigUint64Array(N), id = new BigUint64Array(N);
    for (let k = 0; k < N; k++) {
      let a: number, b: number;
      if (r() < 0.02) {
        // among functional cells: by distance and like-to-like
        for (;;) {
          a = Math.floor(r() * NF);
          b = Math.floor(r() * NF);
          const d = Math.hypot(x[a] - x[b], y[a] - y[b], z[a] - z[b]);
          const dth = Math.abs(ori[a] - ori[b]) % Math.PI;
          const p = Math.exp(-d / 1.5e5) * (0.5 + 0.5 * Math.cos(2 * Math.min(dth, Math.PI - dth)));
          if (r() < p) break;
        }
      } else {
        a = Math.floor(r() * NCELL);
        b = Math.floor(r() * NCELL);
      }
      pre[k] = cellId[a];
      post[k] = cellId[b];
      id[k] = BASE * 2n + BigInt(k);
    }
    const store = await ConnectomeStore.open(path.join(tmp, 'bench.duckdb'));
    const out: Record<string, unknown> = { synapses: N, cells: NCELL, functional_cells: NF, ordered_pairs: NF * (NF - 1), machine: `${os.cpus().length} cores, shared`, loadavg_start: os.loadavg().map((v) => +v.toFixed(2)) };
    await store.insertColumns('synapses', { id, pre_pt_root_id: pre, post_pt_root_id: post }, N);
    await store.insertColumns('cells', { pt_root_id: cellId, pt_position_x: x, pt_position_y: y, pt_position_z: z }, NCELL);
    const unit = Array.from({ length: NF }, (_, i) => i + 1);
    writeFileSync(path.join(tmp, 'coreg.csv'), ['pt_root_id,session,scan_idx,unit_id,score', ...unit.map((u, i) => `${cellId[i]},4,7,${u},0.9`)].join('\n') + '\n');
    writeFileSync(path.join(tmp, 'tuning.csv'), ['session,scan_idx,unit_id,pref_ori,osi', ...unit.map((u, i) => `4,7,${u},${ori[i]},0.5`)].join('\n') + '\n');
    let t = performance.now();
    await importAnnotationTable(store, path.join(tmp, 'coreg.csv'), { name: 'coreg' });
    await importAnnotationTable(store, path.join(tmp, 'tuning.csv'), { name: 'tuning' });
    out.import_tables_s = +((performance.now() - t) / 1000).toFixed(3);
    const c0 = process.cpuUsage();
    t = performance.now();
    const res = await likeToLike(store, { coregistration: 'coreg', tuning: 'tuning', feature: 'orientation', bootstrap: 0, excludeSelf: true });
    out.like_to_like_s = +((performance.now() - t) / 1000).toFixed(3);
    const cu = process.cpuUsage(c0);
    out.like_to_like_cpu_s = +((cu.user + cu.system) / 1e6).toFixed(3);
    t = performance.now();
    await likeToLike(store, { coregistration: 'coreg', tuning: 'tuning', feature: 'orientation', bootstrap: 1000 });
    out.like_to_like_bootstrap1000_s = +((performance.now() - t) / 1000).toFixed(3);
    console.log(`ours: import 2 tables ${out.import_tables_s} s; join + like-to-like over ${res.pairs} pairs (${res.connected} connected): ${out.like_to_like_s} s wall, ${out.like_to_like_cpu_s} s CPU; with 1000 bootstrap resamples ${out.like_to_like_bootstrap1000_s} s`);
    await store.close();

    for (const [n, a] of [['cellid', cellId], ['x', x], ['y', y], ['z', z], ['pre', pre], ['post', post]] as const) writeFileSync(path.join(tmp, `${n}.bin`), new Uint8Array(a.buffer));
    const ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', PANDAS, tmp, String(res.distance_edges.length - 1), String(res.bins.length)], { encoding: 'utf8', maxBuffer: 1 << 26 })) as Record<string, number & number[]>;
    const agree =
      ref.cells === res.cells &&
      res.bins.every((b, k) => b.pairs === ref.pairs[k] && b.connected === ref.connected[k] && Math.abs(b.null_p - ref.null[k]) < 1e-12);
    out.pandas_load_join_s = +ref.load_join_s.toFixed(3);
    out.pandas_analysis_s = +ref.analysis_s.toFixed(3);
    out.pandas_total_s = +ref.total_s.toFixed(3);
    out.agree = agree;
    out.ratio_pandas_over_ours = +(ref.total_s / ((out.like_to_like_s as number) + (out.import_tables_s as number))).toFixed(2);
    console.log(`pandas/numpy: read + join ${out.pandas_load_join_s} s, analysis ${out.pandas_analysis_s} s, total ${out.pandas_total_s} s`);
    console.log(`same bins (pairs, connected, null): ${agree}; pandas / ours (import + analysis): ${out.ratio_pandas_over_ours}x`);
    if (!agree) throw new Error(`like-to-like disagrees with pandas: ours ${JSON.stringify(res.bins.map((b) => [b.pairs, b.connected, b.null_p]))} pandas ${JSON.stringify([ref.pairs, ref.connected, ref.null])}`);
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
