// Connectome store benchmark: N synthetic synapse rows (default 10M; CONNECTOME_BENCH_ROWS to change)
// -> bulk insert (DuckDB appender), Parquet write, counts per (pre, post) pair, type-to-type matrix;
// the same group-bys in pandas (Debian python3-pandas) on the same rows in the same run.
// pandas here has no pyarrow/fastparquet, so it cannot read the Parquet file: it gets the same
// columns as raw little-endian arrays (np.fromfile), and only its group-bys are timed.
// Also times the library query connections()/connectionColumns() end to end (wall and CPU, median of 3);
// CONNECTOME_BENCH_BASELINE=<module path> times that module's connections() too (before/after).
// connectionColumns() reads the store's pair table (`connections`, kept by the inserts); the
// same call with the pair table renamed away times the aggregate path (group-by + sort) in the
// same run, and both must give identical columns; the pair table's full rebuild is timed too.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { importCave } from '../src/connectome/import.js';
import { ConnectomeStore } from '../src/connectome/store.js';
import { connections, connectionColumns, typeMatrix } from '../src/connectome/query.js';
import { seededRandom } from '../src/connectome/graph.js';

const PANDAS = String.raw`
import sys, time, json, numpy as np, pandas as pd
d = sys.argv[1]; n = int(sys.argv[2]); ncell = int(sys.argv[3])
pre = np.fromfile(d + '/pre.bin', dtype='<u8'); post = np.fromfile(d + '/post.bin', dtype='<u8')
size = np.fromfile(d + '/size.bin', dtype='<f8'); types = np.fromfile(d + '/celltype.bin', dtype='<i4')
cellid = np.fromfile(d + '/cellid.bin', dtype='<u8')
df = pd.DataFrame({'pre': pre, 'post': post, 'size': size})
best = 1e9; bcpu = 1e9
for rep in range(2):
    t = time.perf_counter(); c = time.process_time()
    g = df.groupby(['pre', 'post'], sort=False).agg(n=('size', 'size'), s=('size', 'sum'))
    best = min(best, time.perf_counter() - t); bcpu = min(bcpu, time.process_time() - c)
ct = pd.Series(types, index=cellid)
bt = 1e9
for rep in range(2):
    t = time.perf_counter()
    m = pd.DataFrame({'a': ct.reindex(df['pre']).to_numpy(), 'b': ct.reindex(df['post']).to_numpy()}).groupby(['a', 'b']).size()
    bt = min(bt, time.perf_counter() - t)
print(json.dumps({'groupby_s': best, 'groupby_cpu_s': bcpu, 'pairs': int(len(g)), 'sum_n2': int((g['n'].astype('int64') ** 2).sum()), 'size_sum': float(g['s'].sum()),
                  'matrix_s': bt, 'matrix_cells': int(len(m)), 'matrix_total': int(m.sum()), 'matrix_00': int(m.get((0, 0), 0))}))
`;

export default async function bench(): Promise<Record<string, unknown>> {
  const N = Number(process.env.CONNECTOME_BENCH_ROWS ?? 10_000_000);
  const NCELL = 100_000;
  const NCONN = Math.floor(N / 5);
  const NTYPE = 20;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wiring-connectome-bench-'));
  try {
    // synthetic connectome: NCONN connections among NCELL cells, synapses drawn from connections
    const r = seededRandom(42);
    const BASE = 864691135000000000n;
    const cellId = new BigUint64Array(NCELL);
    const cellType = new Int32Array(NCELL);
    for (let i = 0; i < NCELL; i++) {
      cellId[i] = BASE + BigInt(i) * 7n;
      cellType[i] = Math.floor(r() * NTYPE);
    }
    const cpre = new Int32Array(NCONN);
    const cpost = new Int32Array(NCONN);
    for (let k = 0; k < NCONN; k++) {
      cpre[k] = Math.floor(r() * NCELL);
      cpost[k] = Math.floor(r() * NCELL);
    }
    const id = new BigUint64Array(N);
    const pre = new BigUint64Array(N);
    const post = new BigUint64Array(N);
    const size = new Float64Array(N);
    const cx = new Float64Array(N);
    const cy = new Float64Array(N);
    const cz = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      const k = Math.floor(r() ** 2 * NCONN); // skewed: some connections get many synapses
      id[i] = BASE * 2n + BigInt(i);
      pre[i] = cellId[cpre[k]];
      post[i] = cellId[cpost[k]];
      size[i] = 20 + Math.floor(r() * 2000);
      cx[i] = r() * 1e6;
      cy[i] = r() * 1e6;
      cz[i] = r() * 5e5;
    }
    const store = await ConnectomeStore.open(path.join(tmp, 'bench.duckdb'));
    const out: Record<string, unknown> = { rows: N, cells: NCELL, connections_drawn: NCONN, types: NTYPE, machine: `${os.cpus().length} cores, shared (other engineers' jobs running)`, loadavg_start: os.loadavg().map((x) => +x.toFixed(2)) };
    let t = performance.now();
    await store.insertColumns('synapses', { id, pre_pt_root_id: pre, post_pt_root_id: post, size, ctr_pt_position_x: cx, ctr_pt_position_y: cy, ctr_pt_position_z: cz }, N);
    out.insert_s = +((performance.now() - t) / 1000).toFixed(2);
    await store.insertColumns('cells', { pt_root_id: cellId, cell_type: Array.from(cellType, (c) => `T${String(c).padStart(2, '0')}`) }, NCELL);
    console.log(`insert ${N} synapses (data chunks, 7 columns, duplicate-id check, clustered by pre/post): ${out.insert_s} s`);

    const pq = path.join(tmp, 'synapses.parquet');
    t = performance.now();
    await store.exportParquet('synapses', pq);
    out.parquet_write_s = +((performance.now() - t) / 1000).toFixed(2);
    out.parquet_mb = +(statSync(pq).size / 1e6).toFixed(1);
    console.log(`Parquet write: ${out.parquet_write_s} s (${out.parquet_mb} MB)`);

    t = performance.now();
    await store.run('CHECKPOINT');
    out.checkpoint_s = +((performance.now() - t) / 1000).toFixed(2);
    // counts per (pre, post) pair, inside DuckDB (result kept as a table), best of 3
    let best = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      t = performance.now();
      await store.run('CREATE OR REPLACE TEMP TABLE conn AS SELECT pre_pt_root_id, post_pt_root_id, count(*) AS n, sum(size) AS s FROM synapses GROUP BY 1, 2');
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    const ours = (await store.all('SELECT count(*) AS pairs, sum(n * n) AS sum_n2, sum(s) AS size_sum FROM conn'))[0];
    out.groupby_s = +best.toFixed(3);
    console.log(`group-by (pre, post) -> ${ours.pairs} pairs: ${out.groupby_s} s`);

    // the library query end to end: connections() (sorted by count desc, ids; cell names joined;
    // Connection objects) and connectionColumns() (the same as typed arrays). Wall and CPU
    // seconds of this process (DuckDB's threads included), median of 3.
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const timeIt = async (label: string, fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number; res: unknown }> => {
      const walls: number[] = [];
      const cpus: number[] = [];
      let res: unknown;
      for (let rep = 0; rep < 3; rep++) {
        res = undefined;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        res = await fn();
        walls.push((performance.now() - t0) / 1000);
        const cu = process.cpuUsage(c0);
        cpus.push((cu.user + cu.system) / 1e6);
      }
      const r = { wall: +median(walls).toFixed(3), cpu: +median(cpus).toFixed(3), res };
      console.log(`${label}: ${r.wall} s wall, ${r.cpu} s CPU (median of 3; walls ${walls.map((w) => w.toFixed(2)).join(', ')})`);
      return r;
    };
    // the pair table: rebuilt in full (what the inserts above kept up to date incrementally)
    t = performance.now();
    const c0 = process.cpuUsage();
    await store.refreshConnections();
    out.pair_table_rebuild_s = +((performance.now() - t) / 1000).toFixed(3);
    const cu0 = process.cpuUsage(c0);
    out.pair_table_rebuild_cpu_s = +((cu0.user + cu0.system) / 1e6).toFixed(3);
    console.log(`pair table rebuild (group-by + sort into 'connections'): ${out.pair_table_rebuild_s} s wall, ${out.pair_table_rebuild_cpu_s} s CPU`);
    // the aggregate path (no pair table: group-by of the synapses + sort, as before the pair table)
    await store.run('ALTER TABLE connections RENAME TO connections_off');
    const ca = await timeIt('connectionColumns() without the pair table (group-by + sort)', () => connectionColumns(store));
    await store.run('ALTER TABLE connections_off RENAME TO connections');
    out.connection_columns_aggregate_s = ca.wall;
    out.connection_columns_aggregate_cpu_s = ca.cpu;
    const cc = await timeIt('connectionColumns() (typed arrays, from the pair table)', () => connectionColumns(store));
    out.connection_columns_s = cc.wall;
    out.connection_columns_cpu_s = cc.cpu;
    const co = await timeIt('connections() (objects)', () => connections(store));
    out.connections_s = co.wall;
    out.connections_cpu_s = co.cpu;
    const cols = cc.res as Awaited<ReturnType<typeof connectionColumns>>;
    const objs = co.res as Awaited<ReturnType<typeof connections>>;
    let n2 = 0n;
    let sz = 0;
    for (let i = 0; i < cols.length; i++) {
      n2 += BigInt(cols.count[i]) ** 2n;
      sz += cols.size_sum[i];
      if (i > 0 && (cols.count[i] > cols.count[i - 1] || (cols.count[i] === cols.count[i - 1] && cols.pre[i] < cols.pre[i - 1]))) throw new Error(`connectionColumns not sorted at ${i}`);
    }
    const colsAgree =
      cols.length === Number(ours.pairs) && n2 === BigInt(ours.sum_n2 as bigint) && Math.abs(sz - Number(ours.size_sum)) < 1e-6 * sz &&
      objs.length === cols.length && objs[0].count === cols.count[0] && objs[objs.length - 1].post_pt_root_id === cols.post[cols.length - 1];
    const agg = ca.res as Awaited<ReturnType<typeof connectionColumns>>;
    const aggAgree = agg.length === cols.length && agg.pre.every((v, i) => v === cols.pre[i] && agg.post[i] === cols.post[i] && agg.count[i] === cols.count[i] && agg.size_sum[i] === cols.size_sum[i]);
    if (!colsAgree || !aggAgree) throw new Error(`connections()/connectionColumns() disagree with the group-by (${colsAgree}, ${aggAgree})`);
    const colStats = { pairs: cols.length, sum_n2: n2, size_sum: sz };
    if (process.env.CONNECTOME_BENCH_BASELINE) {
      // another module's connections() (e.g. the previous commit's query.ts) on the same store, for before/after
      const base = (await import(path.resolve(process.env.CONNECTOME_BENCH_BASELINE))) as { connections: typeof connections };
      const bo = await timeIt(`baseline connections() (${process.env.CONNECTOME_BENCH_BASELINE})`, () => base.connections(store));
      out.baseline_connections_s = bo.wall;
      out.baseline_connections_cpu_s = bo.cpu;
      if ((bo.res as unknown[]).length !== objs.length) throw new Error('baseline disagrees');
    }

    best = Infinity;
    let m: Awaited<ReturnType<typeof typeMatrix>> | undefined;
    for (let rep = 0; rep < 2; rep++) {
      t = performance.now();
      m = await typeMatrix(store, { measure: 'count' });
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    out.type_matrix_s = +best.toFixed(3);
    console.log(`type matrix (count, ${NTYPE}x${NTYPE}): ${out.type_matrix_s} s`);
    await store.close();

    // pandas on the same rows
    writeFileSync(path.join(tmp, 'pre.bin'), new Uint8Array(pre.buffer));
    writeFileSync(path.join(tmp, 'post.bin'), new Uint8Array(post.buffer));
    writeFileSync(path.join(tmp, 'size.bin'), new Uint8Array(size.buffer));
    writeFileSync(path.join(tmp, 'celltype.bin'), new Uint8Array(cellType.buffer));
    writeFileSync(path.join(tmp, 'cellid.bin'), new Uint8Array(cellId.buffer));
    const ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', PANDAS, tmp, String(N), String(NCELL)], { encoding: 'utf8', maxBuffer: 1 << 26 })) as Record<string, number>;
    const agree =
      Number(ours.pairs) === ref.pairs &&
      BigInt(ours.sum_n2 as bigint) === BigInt(ref.sum_n2) &&
      Math.abs(Number(ours.size_sum) - ref.size_sum) < 1e-6 * ref.size_sum &&
      m!.values.flat().reduce((a, b) => a + b, 0) === ref.matrix_total &&
      m!.values[0][0] === ref.matrix_00 &&
      colStats.pairs === ref.pairs && colStats.sum_n2 === BigInt(ref.sum_n2) && Math.abs(colStats.size_sum - ref.size_sum) < 1e-6 * ref.size_sum;
    out.pandas_groupby_s = +ref.groupby_s.toFixed(3);
    out.pandas_matrix_s = +ref.matrix_s.toFixed(3);
    out.pandas_groupby_cpu_s = +ref.groupby_cpu_s.toFixed(3);
    out.groupby_ratio_pandas_over_ours = +(ref.groupby_s / (out.groupby_s as number)).toFixed(2);
    out.connections_cpu_ratio_pandas_over_ours = +(ref.groupby_cpu_s / (out.connections_cpu_s as number)).toFixed(2);
    out.matrix_ratio_pandas_over_ours = +(ref.matrix_s / (out.type_matrix_s as number)).toFixed(2);
    out.agree = agree;
    out.loadavg_end = os.loadavg().map((x) => +x.toFixed(2));
    out.connection_columns_cpu_ratio_pandas_over_ours = +(ref.groupby_cpu_s / (out.connection_columns_cpu_s as number)).toFixed(2);
    out.connection_columns_wall_ratio_pandas_over_ours = +(ref.groupby_s / (out.connection_columns_s as number)).toFixed(2);
    console.log(`pandas group-by: ${out.pandas_groupby_s} s wall, ${out.pandas_groupby_cpu_s} s CPU (ratio pandas/ours ${out.groupby_ratio_pandas_over_ours}; CPU pandas group-by / our connections() ${out.connections_cpu_ratio_pandas_over_ours}); pandas type matrix: ${out.pandas_matrix_s} s (ratio ${out.matrix_ratio_pandas_over_ours}); results agree: ${agree}`);
    console.log(`connectionColumns() from the pair table vs pandas group-by: ${out.connection_columns_wall_ratio_pandas_over_ours}x wall, ${out.connection_columns_cpu_ratio_pandas_over_ours}x CPU; load average ${JSON.stringify(out.loadavg_start)} -> ${JSON.stringify(out.loadavg_end)}`);
    if (!agree) throw new Error(`DuckDB and pandas disagree: ours ${JSON.stringify(ours, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}, pandas ${JSON.stringify(ref)}`);

    // CAVE import at scale: the first CONNECTOME_BENCH_CAVE_ROWS synapses (default 1M) written as
    // a MICrONS merged dump (headerless .csv.gz + name,type sidecar, split positions in 4x4x40 nm
    // voxels, every 10th row valid=f), imported with importCave; pandas reads the same file with
    // the sidecar's names and counts per pair on the valid rows; both must agree exactly.
    const NC = Math.min(N, Number(process.env.CONNECTOME_BENCH_CAVE_ROWS ?? 1_000_000));
    if (NC > 0) {
      const header = ['id,bigint', 'created,timestamp without time zone', 'superceded_id,bigint', 'valid,boolean', 'pre_pt_position_x,integer', 'pre_pt_position_y,integer', 'pre_pt_position_z,integer',
        'post_pt_position_x,integer', 'post_pt_position_y,integer', 'post_pt_position_z,integer', 'ctr_pt_position_x,integer', 'ctr_pt_position_y,integer', 'ctr_pt_position_z,integer',
        'size,integer', 'pre_pt_supervoxel_id,bigint', 'pre_pt_root_id,bigint', 'post_pt_supervoxel_id,bigint', 'post_pt_root_id,bigint'];
      const parts: string[] = [];
      for (let i = 0; i < NC; i++) {
        const x = Math.floor(cx[i] / 4);
        const y = Math.floor(cy[i] / 4);
        const z = Math.floor(cz[i] / 40);
        parts.push(`${id[i]},2023-04-20 16:52:08.96+00,,${i % 10 === 9 ? 'f' : 't'},${x},${y},${z},${x + 1},${y},${z},${x},${y + 1},${z},${size[i]},${88000000000000000n + BigInt(i)},${pre[i]},${88000000000000001n + BigInt(i)},${post[i]}`);
      }
      const dump = path.join(tmp, 'synapses_bench_merged.csv.gz');
      writeFileSync(dump, gzipSync(parts.join('\n') + '\n', { level: 1 }));
      writeFileSync(path.join(tmp, 'synapses_bench_merged_header.csv'), header.join('\n') + '\n');
      parts.length = 0;
      const cave = await ConnectomeStore.open(path.join(tmp, 'cave.duckdb'));
      t = performance.now();
      const c1 = process.cpuUsage();
      const rep = await importCave(cave, [dump], { resolution: [4, 4, 40] });
      out.cave_import_rows = NC;
      out.cave_import_s = +((performance.now() - t) / 1000).toFixed(2);
      const cu1 = process.cpuUsage(c1);
      out.cave_import_cpu_s = +((cu1.user + cu1.system) / 1e6).toFixed(2);
      const cc2 = await connectionColumns(cave);
      await cave.close();
      let cn2 = 0n;
      let csz = 0;
      let ctot = 0;
      for (let i = 0; i < cc2.length; i++) {
        cn2 += BigInt(cc2.count[i]) ** 2n;
        csz += cc2.size_sum[i];
        ctot += cc2.count[i];
      }
      const PD_CAVE = String.raw`
import sys, json, time, pandas as pd
names = [l.split(',')[0] for l in open(sys.argv[2]).read().splitlines() if l.strip()]
t = time.perf_counter()
df = pd.read_csv(sys.argv[1], header=None, names=names, usecols=['valid', 'pre_pt_root_id', 'post_pt_root_id', 'size'], dtype={'valid': str, 'pre_pt_root_id': 'uint64', 'post_pt_root_id': 'uint64', 'size': 'float64'})
df = df[df['valid'] == 't']
g = df.groupby(['pre_pt_root_id', 'post_pt_root_id']).agg(n=('size', 'size'), s=('size', 'sum'))
print(json.dumps({'s': time.perf_counter() - t, 'rows': int(len(df)), 'pairs': int(len(g)), 'sum_n2': int((g['n'].astype('int64') ** 2).sum()), 'size_sum': float(g['s'].sum())}))
`;
      const pc = JSON.parse(execFileSync('/usr/bin/python3', ['-c', PD_CAVE, dump, path.join(tmp, 'synapses_bench_merged_header.csv')], { encoding: 'utf8', maxBuffer: 1 << 26 })) as Record<string, number>;
      out.cave_pandas_read_groupby_s = +pc.s.toFixed(2);
      const caveAgree = rep[0].inserted === pc.rows && ctot === pc.rows && cc2.length === pc.pairs && cn2 === BigInt(pc.sum_n2) && Math.abs(csz - pc.size_sum) < 1e-9 * pc.size_sum;
      out.cave_agree = caveAgree;
      console.log(`CAVE merged dump of ${NC} rows: importCave ${out.cave_import_s} s wall, ${out.cave_import_cpu_s} s CPU (this process); ${rep[0].inserted} rows, ${cc2.length} pairs; pandas read_csv + group-by ${out.cave_pandas_read_groupby_s} s; counts agree exactly: ${caveAgree}`);
      if (!caveAgree) throw new Error(`CAVE import and pandas disagree: ours rows ${rep[0].inserted} pairs ${cc2.length} sum_n2 ${cn2} size ${csz}; pandas ${JSON.stringify(pc)}`);
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
