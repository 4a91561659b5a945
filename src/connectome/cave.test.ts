// CAVE dumps as they come from MICrONS / V1DD: generated in every layout the importer accepts
// (merged .csv.gz + header sidecar, header-row CSV with BOM/CRLF/quotes, bracket positions,
// Parquet with list positions), then per-pair counts compared exactly with the generator's.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { importCave } from './import.js';
import { connectionColumns } from './query.js';
import { ConnectomeStore } from './store.js';

const U64_MAX = (1n << 64n) - 1n;
const BASE = 864691135000000000n;
const opened: ConnectomeStore[] = [];
async function fresh(): Promise<{ store: ConnectomeStore; dir: string }> {
  const dir = await tempDir('wiring-cave-');
  const store = await ConnectomeStore.open(path.join(dir, 'ds.duckdb'));
  opened.push(store);
  return { store, dir };
}
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

interface Gen {
  id: bigint;
  pre: bigint;
  post: bigint;
  valid: boolean;
  size: number;
  pre_pos: number[];
  post_pos: number[];
  ctr_pos: number[];
}

/** Synapse rows with MICrONS-like root ids, ids above 2^63 and at 2^64-1, root id 0, self-synapses, invalid rows. */
function generate(n: number, seed: number): Gen[] {
  let s = seed >>> 0;
  const r = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const roots = [0n, U64_MAX, (1n << 63n) + 5n, ...Array.from({ length: 25 }, (_, i) => BASE + BigInt(i) * 1000003n)];
  const out: Gen[] = [];
  for (let i = 0; i < n; i++) {
    const pre = roots[Math.floor(r() * roots.length)];
    const post = r() < 0.1 ? pre : roots[Math.floor(r() ** 2 * roots.length)];
    const x = Math.floor(r() * 100000);
    out.push({
      id: i === 0 ? U64_MAX : (1n << 63n) + BigInt(i) * 3n,
      pre,
      post,
      valid: r() > 0.1,
      size: 1 + Math.floor(r() * 3000),
      pre_pos: [x, 2 * x, 100 + (i % 50)],
      post_pos: [x + 2, 2 * x + 1, 101 + (i % 50)],
      ctr_pos: [x + 1, 2 * x, 100 + (i % 50)],
    });
  }
  return out;
}

function expectedPairs(rows: Gen[]): Map<string, [number, number]> {
  const m = new Map<string, [number, number]>();
  for (const g of rows) {
    if (!g.valid) continue;
    const k = `${g.pre}|${g.post}`;
    const e = m.get(k) ?? [0, 0];
    e[0]++;
    e[1] += g.size;
    m.set(k, e);
  }
  return m;
}

async function storedPairs(store: ConnectomeStore): Promise<Map<string, [number, number]>> {
  const c = await connectionColumns(store);
  const m = new Map<string, [number, number]>();
  for (let i = 0; i < c.length; i++) m.set(`${c.pre[i]}|${c.post[i]}`, [c.count[i], c.size_sum[i]]);
  // the same from the synapse rows directly (not the pair table)
  const direct = new Map<string, [number, number]>();
  for (const r of await store.all('SELECT pre_pt_root_id::VARCHAR AS a, post_pt_root_id::VARCHAR AS b, count(*) AS n, sum(size) AS s FROM synapses GROUP BY 1, 2')) {
    direct.set(`${r.a}|${r.b}`, [Number(r.n), Number(r.s)]);
  }
  expect(direct).toEqual(m);
  return m;
}

// MICrONS merged dump column order: id, created, superceded_id, valid, split positions, size, supervoxel and root ids
const MERGED_COLS: [string, string][] = [
  ['id', 'bigint'], ['created', 'timestamp without time zone'], ['superceded_id', 'bigint'], ['valid', 'boolean'],
  ['pre_pt_position_x', 'integer'], ['pre_pt_position_y', 'integer'], ['pre_pt_position_z', 'integer'],
  ['post_pt_position_x', 'integer'], ['post_pt_position_y', 'integer'], ['post_pt_position_z', 'integer'],
  ['ctr_pt_position_x', 'integer'], ['ctr_pt_position_y', 'integer'], ['ctr_pt_position_z', 'integer'],
  ['size', 'integer'], ['pre_pt_supervoxel_id', 'bigint'], ['pre_pt_root_id', 'bigint'], ['post_pt_supervoxel_id', 'bigint'], ['post_pt_root_id', 'bigint'],
];

function mergedLine(g: Gen): string {
  return [g.id, '"2023-04-20 16:52:08.96+00"', '', g.valid ? 't' : 'f', ...g.pre_pos, ...g.post_pos, ...g.ctr_pos, g.size, 88000000000000000n + g.id % 1000n, g.pre, 88000000000000001n, g.post].join(',');
}

describe('CAVE synapse tables: exact counts per pair in every layout', () => {
  const rows = generate(3000, 11);
  const want = expectedPairs(rows);
  const invalid = rows.filter((g) => !g.valid).length;

  it('merged .csv.gz + header sidecar (name,type rows), CRLF, quoted timestamps, empty superceded_id; MICrONS 4x4x40 nm voxels', async () => {
    const { store, dir } = await fresh();
    const data = path.join(dir, 'synapses_pni_2_merged.csv.gz');
    writeFileSync(data, gzipSync(rows.map(mergedLine).join('\r\n') + '\r\n'));
    const header = path.join(dir, 'synapses_pni_2_merged_header.csv');
    writeFileSync(header, MERGED_COLS.map(([n, t]) => `${n},${t}`).join('\n') + '\n');
    // the header file given as an input too (as a shell glob would): used as the header, not imported
    const rep = await importCave(store, [header, data], { resolution: [4, 4, 40] });
    expect(rep.length).toBe(1);
    expect(rep[0]).toMatchObject({ table: 'synapses', inserted: rows.length - invalid, skipped: { 'valid=false': invalid } });
    // columns with no place in the table are kept beside it (synapses_extra), not dropped
    expect(rep[0].extraColumns).toEqual(['created', 'superceded_id']);
    expect(rep[0].ignoredColumns).toEqual([]);
    expect(await storedPairs(store)).toEqual(want);
    const top = await store.all(`SELECT id, pre_pt_root_id, ctr_pt_position_x AS x, ctr_pt_position_z AS z, pre_pt_supervoxel_id AS sv FROM synapses WHERE id = ${U64_MAX}`);
    const g0 = rows[0];
    if (g0.valid) expect(top).toEqual([{ id: U64_MAX, pre_pt_root_id: g0.pre, x: g0.ctr_pos[0] * 4, z: g0.ctr_pos[2] * 40, sv: 88000000000000000n + (U64_MAX % 1000n) }]);
    // self-synapses and unassigned partners are kept; queries drop them by choice
    const self = rows.filter((g) => g.valid && g.pre === g.post).length;
    expect(self).toBeGreaterThan(0);
    expect((await connectionColumns(store, { excludeSelf: true })).count.reduce((a, b) => a + b, 0)).toBe(rows.length - invalid - self);
    const zero = rows.filter((g) => g.valid && (g.pre === 0n || g.post === 0n)).length;
    expect(zero).toBeGreaterThan(0);
    expect((await connectionColumns(store, { excludeUnassigned: true })).count.reduce((a, b) => a + b, 0)).toBe(rows.length - invalid - zero);
  });

  it('a header sidecar with one line of names; a header-row CSV with BOM, CRLF, "[x y z]" and quoted "[x, y, z]" positions, True/False, gzip without .gz', async () => {
    const { store, dir } = await fresh();
    const half = Math.floor(rows.length / 2);
    const a = path.join(dir, 'part_a_merged.csv.gz');
    // this one also repeats the names as its first line (a re-saved dump): read as a header row
    writeFileSync(a, gzipSync([MERGED_COLS.map(([n]) => n).join(','), ...rows.slice(0, half).map(mergedLine)].join('\n') + '\n'));
    writeFileSync(path.join(dir, 'part_a_merged_header.csv'), MERGED_COLS.map(([n]) => n).join(',') + '\n');
    const b = path.join(dir, 'part_b.csv');
    // pandas' to_csv: the index first, under an empty name
    const head = ',id,valid,pre_pt_root_id,post_pt_root_id,size,pre_pt_position,post_pt_position,ctr_pt_position,superceded_id';
    const lines = rows.slice(half).map((g, i) => [i, g.id, g.valid ? 'True' : 'False', g.pre, g.post, g.size, `[${g.pre_pos.join(' ')}]`, `"[${g.post_pos.join(', ')}]"`, `" [ ${g.ctr_pos.join(',  ')} ] "`, ''].join(','));
    writeFileSync(b, gzipSync(Buffer.from('\uFEFF' + [head, ...lines].join('\r\n') + '\r\n', 'utf8')));
    const rep = await importCave(store, [a, b]);
    expect(rep.map((r) => r.inserted)).toEqual([rows.slice(0, half).filter((g) => g.valid).length, rows.slice(half).filter((g) => g.valid).length]);
    expect(rep[1].ignoredColumns).toEqual(['_unnamed_1']);
    expect(rep[1].extraColumns).toEqual(['superceded_id']);
    expect(await storedPairs(store)).toEqual(want);
    const g = rows.slice(half).find((x) => x.valid)!;
    const got = await store.all(`SELECT pre_pt_position_y AS a, post_pt_position_x AS b, ctr_pt_position_z AS c FROM synapses WHERE id = ${g.id}`);
    expect(got).toEqual([{ a: g.pre_pos[1], b: g.post_pos[0], c: g.ctr_pos[2] }]);
  });

  it('Parquet: UBIGINT ids, BOOLEAN valid, positions as lists', async () => {
    const { store, dir } = await fresh();
    const csv = path.join(dir, 'plain.csv');
    writeFileSync(csv, ['id,valid,pre,post,size,px,py,pz,qx,qy,qz,cx,cy,cz', ...rows.map((g) => [g.id, g.valid, g.pre, g.post, g.size, ...g.pre_pos, ...g.post_pos, ...g.ctr_pos].join(','))].join('\n') + '\n');
    const pq = path.join(dir, 'synapses.parquet');
    await store.run(
      `COPY (SELECT id::UBIGINT AS id, valid::BOOLEAN AS valid, pre::UBIGINT AS pre_pt_root_id, post::UBIGINT AS post_pt_root_id, size::BIGINT AS size,
         [px, py, pz]::BIGINT[] AS pre_pt_position, [qx, qy, qz]::BIGINT[] AS post_pt_position, [cx, cy, cz]::DOUBLE[] AS ctr_pt_position
       FROM read_csv('${csv}', header = true, all_varchar = true)) TO '${pq}' (FORMAT parquet)`,
    );
    const rep = await importCave(store, [pq], { resolution: [4, 4, 40] });
    expect(rep[0]).toMatchObject({ table: 'synapses', inserted: rows.length - invalid, skipped: { 'valid=false': invalid } });
    expect(await storedPairs(store)).toEqual(want);
    const g = rows.find((x) => x.valid)!;
    expect(await store.all(`SELECT post_pt_position_z AS z FROM synapses WHERE id = ${g.id}`)).toEqual([{ z: g.post_pos[2] * 40 }]);
  });

  it('bad rows name file, line and column; the database (and its pair table) stays as it was', async () => {
    const { store, dir } = await fresh();
    const ok = path.join(dir, 'ok_merged.csv.gz');
    writeFileSync(ok, gzipSync(rows.slice(0, 100).map(mergedLine).join('\n') + '\n'));
    writeFileSync(path.join(dir, 'ok_merged_header.csv'), MERGED_COLS.map(([n, t]) => `${n},${t}`).join('\n') + '\n');
    await importCave(store, [ok]);
    const ok2 = path.join(dir, 'ok2_merged.csv.gz');
    writeFileSync(ok2, gzipSync(rows.slice(100, 200).map(mergedLine).join('\n') + '\n'));
    writeFileSync(path.join(dir, 'ok2_merged_header.csv'), MERGED_COLS.map(([n, t]) => `${n},${t}`).join('\n') + '\n');
    const there = rows.slice(0, 100).find((g) => g.valid)!.id;
    const before = await storedPairs(store);
    const count = await store.count('synapses');
    const head = 'id,valid,pre_pt_root_id,post_pt_root_id,size,ctr_pt_position';
    const good = (i: number) => `${5_000_000 + i},t,${BASE},${BASE + 1n},3,[1 2 3]`;
    const cases: [string, string, RegExp][] = [
      ['overflow', `${5_000_000},t,18446744073709551616,${BASE},3,[1 2 3]`, /line 3, column pre_pt_root_id: "18446744073709551616" is not an unsigned 64-bit integer id/],
      ['negative', `${5_000_000},t,-5,${BASE},3,[1 2 3]`, /line 3, column pre_pt_root_id: "-5" is not an unsigned/],
      ['float id', `${5_000_000},t,8.6469113e17,${BASE},3,[1 2 3]`, /line 3, column pre_pt_root_id: "8.6469113e17"/],
      ['arity', `${5_000_000},t,${BASE},${BASE},3,[1 2]`, /line 3, column ctr_pt_position: "\[1 2\]" is not a position "\[x y z\]" with 3 numbers/],
      ['valid', `${5_000_000},maybe,${BASE},${BASE},3,[1 2 3]`, /line 3, column valid: "maybe" is not a boolean/],
      ['duplicate', `${5_000_000},t,${BASE},${BASE},3,[1 2 3]\n${5_000_000},t,${BASE},${BASE},3,[1 2 3]`, /line 4: duplicate id 5000000 \(already at line 3\)/],
      ['already there', `${there},t,${BASE},${BASE},3,[1 2 3]`, new RegExp(`line 3: id ${there} is already in table synapses`)],
      ['fields', `${5_000_000},t,${BASE},${BASE},3`, /bad\.csv.*6-column CSV/],
      ['empty root', `${5_000_000},t,,${BASE},3,[1 2 3]`, /line 3, column pre_pt_root_id: an empty value/],
    ];
    for (const [what, line, re] of cases) {
      const bad = path.join(dir, 'bad.csv');
      writeFileSync(bad, `${head}\n${good(1)}\n${line}\n`);
      // a good file first: rolled back with the bad one
      await expect(importCave(store, [ok2, bad]), what).rejects.toThrow(re);
      expect(await store.count('synapses'), what).toBe(count);
      expect(await storedPairs(store), what).toEqual(before);
    }
  });
});

describe('CAVE cell, nucleus and proofreading tables', () => {
  it('nucleus + cell-type (aibs_metamodel / allen_v1_column_types) + proofreading tables merge into cells and proofreading', async () => {
    const { store, dir } = await fresh();
    const nuc = path.join(dir, 'nucleus_detection_v0_merged.csv.gz');
    const nucCols = ['id', 'created', 'superceded_id', 'valid', 'volume', 'pt_supervoxel_id', 'pt_root_id', 'pt_position_x', 'pt_position_y', 'pt_position_z', 'bb_start_position_x', 'bb_start_position_y', 'bb_start_position_z', 'bb_end_position_x', 'bb_end_position_y', 'bb_end_position_z'];
    writeFileSync(path.join(dir, 'nucleus_detection_v0_merged_header.csv'), nucCols.map((c) => `${c},${c.includes('position') ? 'integer' : 'bigint'}`).join('\n'));
    const nucRows = [
      [1, '2020-09-28 22:40:42.476911+00', '', 't', 229.3, 91000000000000001n, BASE + 1n, 100, 200, 30, 0, 0, 0, 1, 1, 1],
      [2, '2020-09-28 22:40:42.476911+00', '', 't', 180.5, 91000000000000002n, 0, 300, 400, 31, 0, 0, 0, 1, 1, 1], // no cell: skipped
      [3, '2020-09-28 22:40:42.476911+00', '', 't', 200.0, 91000000000000003n, U64_MAX, 500, 600, 32, 0, 0, 0, 1, 1, 1],
      [4, '2020-09-28 22:40:42.476911+00', '5', 'f', 10.0, 91000000000000004n, BASE + 9n, 1, 1, 1, 0, 0, 0, 1, 1, 1], // superseded
    ];
    writeFileSync(nuc, gzipSync(nucRows.map((r) => r.join(',')).join('\n') + '\n'));
    const types = path.join(dir, 'aibs_metamodel_celltypes_v661.csv');
    writeFileSync(
      types,
      [
        'id,created,valid,target_id,classification_system,cell_type,id_ref,created_ref,valid_ref,volume,pt_supervoxel_id,pt_root_id,pt_position',
        `1,2023-01-01,t,1,excitatory_neuron,L2a,1,2020-09-28,t,229.3,91000000000000001,${BASE + 1n},"[100, 200, 30]"`,
        `2,2023-01-01,t,3,inhibitory_neuron,BPC,3,2020-09-28,t,200.0,91000000000000003,${U64_MAX},"[500, 600, 32]"`,
        `3,2023-01-01,t,2,excitatory_neuron,L4a,2,2020-09-28,t,180.5,91000000000000002,0,"[300, 400, 31]"`,
      ].join('\n'),
    );
    const proof = path.join(dir, 'proofreading_status_public_release.csv');
    writeFileSync(proof, ['id,valid,pt_supervoxel_id,pt_root_id,valid_id,status_dendrite,status_axon,pt_position_x,pt_position_y,pt_position_z', `1,t,1,${BASE + 1n},1,extended,clean,1,2,3`, `2,t,2,${U64_MAX},2,clean,non,1,2,3`].join('\n'));
    const rep = await importCave(store, [nuc, types, proof], { resolution: [4, 4, 40], volumeScale: 1e9 });
    expect(rep.map((r) => [r.table, r.inserted, r.updated ?? 0])).toEqual([['cells', 2, 0], ['cells', 0, 2], ['proofreading', 2, 0]]);
    expect(rep[0].skipped).toEqual({ 'valid=false': 1, 'pt_root_id=0': 1 });
    expect(rep[1].skipped).toEqual({ 'pt_root_id=0': 1 });
    const cells = await store.all('SELECT pt_root_id, cell_type, classification_system, pt_position_x AS x, pt_position_z AS z, volume FROM cells ORDER BY pt_root_id');
    expect(cells).toEqual([
      { pt_root_id: BASE + 1n, cell_type: 'L2a', classification_system: 'excitatory_neuron', x: 400, z: 1200, volume: 229.3 * 1e9 },
      { pt_root_id: U64_MAX, cell_type: 'BPC', classification_system: 'inhibitory_neuron', x: 2000, z: 1280, volume: 200 * 1e9 },
    ]);
    expect(await store.all('SELECT pt_root_id, status_axon, status_dendrite FROM proofreading ORDER BY pt_root_id')).toEqual([
      { pt_root_id: BASE + 1n, status_axon: 'clean', status_dendrite: 'extended' },
      { pt_root_id: U64_MAX, status_axon: 'non', status_dendrite: 'clean' },
    ]);
  });
});
