import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../test/data.js';
import { importCave, importEdges, importSwc, importTables, exportAll, nameId, parseEdgeList } from './import.js';
import { ConnectomeStore } from './store.js';

const BIG = 864691135639556411n; // a MICrONS-like root id (> 2^53)
const opened: ConnectomeStore[] = [];
async function fresh(): Promise<{ store: ConnectomeStore; dir: string }> {
  const dir = await tempDir('wiring-import-');
  const store = await ConnectomeStore.open(path.join(dir, 'ds.duckdb'));
  opened.push(store);
  return { store, dir };
}
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

const SYN_HEADER = [
  'id,bigint', 'created,timestamp', 'superceded_id,bigint', 'valid,boolean',
  'pre_pt_position_x,integer', 'pre_pt_position_y,integer', 'pre_pt_position_z,integer',
  'post_pt_position_x,integer', 'post_pt_position_y,integer', 'post_pt_position_z,integer',
  'ctr_pt_position_x,integer', 'ctr_pt_position_y,integer', 'ctr_pt_position_z,integer',
  'size,integer', 'pre_pt_supervoxel_id,bigint', 'pre_pt_root_id,bigint', 'post_pt_supervoxel_id,bigint', 'post_pt_root_id,bigint',
].join('\n');

function synLine(id: bigint | string, pre: bigint | string, post: bigint | string, valid = 't', x = 100): string {
  return [id, '2023-01-01 00:00:00', '', valid, x, 200, 20, x + 2, 202, 21, x + 1, 201, 20, 37, 1111, pre, 2222, post].join(',');
}

async function writeCave(dir: string, name: string, lines: string[], header = SYN_HEADER): Promise<string> {
  const data = path.join(dir, `${name}_merged.csv.gz`);
  await writeFile(data, gzipSync(lines.join('\n') + '\n'));
  await writeFile(path.join(dir, `${name}_merged_header.csv`), header + '\n');
  return data;
}

describe('CAVE import', () => {
  it('reads a headerless gzipped dump with its header file, converts voxels to nm, skips invalid rows', async () => {
    const { store, dir } = await fresh();
    const f = await writeCave(dir, 'synapses_pni_2', [synLine(1n, BIG, BIG + 1n), synLine(2n, BIG + 1n, BIG), synLine(3n, 5n, 6n, 'f'), synLine(BIG, 0n, BIG)]);
    const rep = await importCave(store, [f], { resolution: [4, 4, 40] });
    expect(rep[0]).toMatchObject({ table: 'synapses', inserted: 3, skipped: { 'valid=false': 1 } });
    expect(rep[0].extraColumns).toEqual(['created', 'superceded_id']);
    expect(rep[0].ignoredColumns).toEqual([]);
    const rows = await store.all('SELECT * FROM synapses ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1n, 2n, BIG]);
    expect(rows[0]).toMatchObject({ pre_pt_root_id: BIG, post_pt_root_id: BIG + 1n, pre_pt_position_x: 400, pre_pt_position_z: 800, ctr_pt_position_x: 404, size: 37, pre_pt_supervoxel_id: 1111n });
    expect(rows[2].pre_pt_root_id).toBe(0n);
  });

  it('reads "[x y z]" position columns in a CSV with a header row; cells merge nucleus + cell-type tables', async () => {
    const { store, dir } = await fresh();
    const nuc = path.join(dir, 'nucleus.csv');
    await writeFile(nuc, `id,volume,pt_root_id,pt_position\n1,250.5,${BIG},"[10 20 30]"\n2,100,0,[1 1 1]\n3,80,7,"POINT Z (5, 6, 7)"\n`);
    const types = path.join(dir, 'types.csv');
    await writeFile(types, `id,pt_root_id,cell_type,classification_system\n9,${BIG},23P,excitatory\n10,8,BC,inhibitory\n`);
    const r1 = await importCave(store, [nuc], { resolution: [4, 4, 40], volumeScale: 1e9 });
    expect(r1[0]).toMatchObject({ table: 'cells', inserted: 2, skipped: { 'pt_root_id=0': 1 } });
    const r2 = await importCave(store, [types]);
    expect(r2[0]).toMatchObject({ table: 'cells', inserted: 1, updated: 1 });
    const cells = await store.all('SELECT * FROM cells ORDER BY pt_root_id');
    expect(cells.map((c) => c.pt_root_id)).toEqual([7n, 8n, BIG]);
    expect(cells[2]).toMatchObject({ pt_position_x: 40, pt_position_y: 80, pt_position_z: 1200, volume: 250.5e9, cell_type: '23P', classification_system: 'excitatory' });
    expect(cells[0]).toMatchObject({ pt_position_x: 20, pt_position_z: 280 });
  });

  it('bad rows: overflowing id, wrong arity, duplicates, field count -> error with file, line, column; database unchanged', async () => {
    const { store, dir } = await fresh();
    const good = await writeCave(dir, 'good', [synLine(1n, 2n, 3n)]);
    await importCave(store, [good]);
    const over = await writeCave(dir, 'over', [synLine(10n, 2n, 3n), synLine(11n, '18446744073709551616', 3n)]);
    await expect(importCave(store, [over])).rejects.toThrow(/over_merged\.csv\.gz: line 2, column pre_pt_root_id: "18446744073709551616" is not an unsigned 64-bit/);
    const sci = await writeCave(dir, 'sci', [synLine(13n, 2n, '1e3')]);
    await expect(importCave(store, [sci])).rejects.toThrow(/line 1, column post_pt_root_id: "1e3" is not an unsigned 64-bit/);
    const frac = await writeCave(dir, 'frac', [synLine('1.7', 2n, 3n)]);
    await expect(importCave(store, [frac])).rejects.toThrow(/line 1, column id: "1.7"/);
    const neg = await writeCave(dir, 'neg', [synLine(12n, '-5', 3n)]);
    await expect(importCave(store, [neg])).rejects.toThrow(/line 1, column pre_pt_root_id: "-5"/);
    const dup = await writeCave(dir, 'dup', [synLine(20n, 2n, 3n), synLine(21n, 2n, 3n), synLine(20n, 2n, 3n)]);
    await expect(importCave(store, [dup])).rejects.toThrow(/dup_merged\.csv\.gz: line 3: duplicate id 20 \(already at line 1\)/);
    const again = await writeCave(dir, 'again', [synLine(30n, 2n, 3n), synLine(1n, 2n, 3n)]);
    await expect(importCave(store, [again])).rejects.toThrow(/line 2: id 1 is already in table synapses/);
    const arity = path.join(dir, 'arity.csv');
    await writeFile(arity, `id,pre_pt_root_id,post_pt_root_id,ctr_pt_position\n40,1,2,[1 2 3]\n41,1,2,[1 2]\n`);
    await expect(importCave(store, [arity])).rejects.toThrow(/arity\.csv: line 3, column ctr_pt_position: "\[1 2\]" is not a position/);
    const short = await writeCave(dir, 'short', [synLine(50n, 2n, 3n), '51,2,3']);
    await expect(importCave(store, [short])).rejects.toThrow(/short_merged\.csv\.gz: not a valid 18-column CSV/);
    // a good file followed by a bad one: neither lands
    await expect(importCave(store, [await writeCave(dir, 'ok2', [synLine(60n, 2n, 3n)]), over])).rejects.toThrow(/over_merged/);
    expect((await store.all('SELECT id FROM synapses')).map((r) => r.id)).toEqual([1n]);
  });

  it('cell tables: a repeated root id keeps the first row (reported); a repeated annotation id is an error', async () => {
    const { store, dir } = await fresh();
    const f = path.join(dir, 'nuc.csv');
    await writeFile(f, `id,pt_root_id,pt_position_x,pt_position_y,pt_position_z,volume\n1,${BIG},1,2,3,10\n2,${BIG},4,5,6,20\n3,0,1,1,1,5\n4,9,1,1,1,5\n`);
    const r = await importCave(store, [f]);
    expect(r[0]).toMatchObject({ inserted: 2, skipped: { 'pt_root_id=0': 1, 'repeated pt_root_id (first row kept)': 1 } });
    expect((await store.all(`SELECT volume FROM cells WHERE pt_root_id = ${BIG}`))[0].volume).toBe(10);
    const g = path.join(dir, 'dupid.csv');
    await writeFile(g, 'id,pt_root_id,cell_type\n1,5,a\n2,6,b\n1,7,c\n');
    await expect(importCave(store, [g])).rejects.toThrow(/dupid\.csv: line 4: duplicate id 1 \(already at line 2\)/);
    expect(await store.count('cells')).toBe(2);
  });

  it('a header file with a column,type title line', async () => {
    const { store, dir } = await fresh();
    const f = await writeCave(dir, 'titled', [synLine(1n, 2n, 3n)], 'column,type\n' + SYN_HEADER);
    expect((await importCave(store, [f]))[0].inserted).toBe(1);
  });

  it('compartment tags and proofreading tables', async () => {
    const { store, dir } = await fresh();
    const tags = path.join(dir, 'tags.csv');
    await writeFile(tags, 'id,target_id,tag\n1,100,spine\n2,101,shaft\n');
    const pr = path.join(dir, 'pr.csv');
    await writeFile(pr, `id,valid_id,pt_root_id,status_dendrite,status_axon\n1,${BIG},${BIG},extended,clean\n`);
    const r = await importCave(store, [tags, pr]);
    expect(r.map((x) => x.table)).toEqual(['compartment_tags', 'proofreading']);
    expect(await store.all('SELECT * FROM compartment_tags ORDER BY synapse_id')).toEqual([
      { synapse_id: 100n, compartment: 'spine' },
      { synapse_id: 101n, compartment: 'shaft' },
    ]);
    expect(await store.all('SELECT * FROM proofreading')).toEqual([{ pt_root_id: BIG, status_axon: 'clean', status_dendrite: 'extended' }]);
  });
});

describe('edge lists', () => {
  it('names with spaces get stable ids; weights expand to synapse rows', async () => {
    const { store, dir } = await fresh();
    const f = path.join(dir, 'e.csv');
    await writeFile(f, 'Source,Target,Weight,Type\nAVAL , AVAR  ,3,chemical\nAVAR,AVAL,1,electrical\n');
    const rep = await importEdges(store, [f]);
    expect(rep[0]).toMatchObject({ inserted: 4, cells: 2 });
    expect(nameId('AVAL')).toBe(nameId(' AVAL '));
    expect(nameId('AVAL')).not.toBe(nameId('AVAR'));
    const cells = await store.all('SELECT pt_root_id, name FROM cells ORDER BY name');
    expect(cells).toEqual([
      { pt_root_id: nameId('AVAL'), name: 'AVAL' },
      { pt_root_id: nameId('AVAR'), name: 'AVAR' },
    ]);
    const c = await store.all('SELECT pre_pt_root_id AS a, count(*) AS n FROM synapses GROUP BY 1 ORDER BY n');
    expect(c).toEqual([
      { a: nameId('AVAR'), n: 1n },
      { a: nameId('AVAL'), n: 3n },
    ]);
    const bad = path.join(dir, 'bad.csv');
    await writeFile(bad, 'Source,Target,Weight\nA,B,2\nA,B,x\n');
    await expect(importEdges(store, [bad])).rejects.toThrow(/bad\.csv: line 3, column weight: "x"/);
    const frac = path.join(dir, 'frac.csv');
    await writeFile(frac, 'Source,Target,Weight\nA,B,2.5\n');
    await expect(importEdges(store, [frac])).rejects.toThrow(/line 2: weight 2.5 is not a whole number/);
    const sized = await importEdges(store, [frac], { weight: 'size' });
    expect(sized[0].inserted).toBe(1);
    expect(await store.count('synapses')).toBe(5);
  });

  it('exportAll + importTables round-trips every table', async () => {
    const { store, dir } = await fresh();
    const f = path.join(dir, 'e.csv');
    await writeFile(f, 'pre\tpost\ttype\tsynapses\nA\tB\tchemical\t2\n');
    await importEdges(store, [f]);
    for (const fmt of ['parquet', 'csv'] as const) {
      const files = await exportAll(store, path.join(dir, fmt), fmt);
      const other = await ConnectomeStore.open(path.join(dir, `${fmt}.duckdb`));
      opened.push(other);
      await importTables(other, files);
      for (const t of ['cells', 'synapses'] as const) {
        expect(await other.all(`SELECT * FROM ${t} ORDER BY 1`)).toEqual(await store.all(`SELECT * FROM ${t} ORDER BY 1`));
      }
    }
  });
});

/** Independent reading of an edge list: split by hand, trim, sum weights per pair. */
function independentPairs(file: string, delim: string): Map<string, number> {
  const lines = readFileSync(file, 'utf8').split('\n').slice(1).filter((l) => l.trim());
  const m = new Map<string, number>();
  for (const l of lines) {
    const f = l.split(delim);
    const k = `${f[0].trim()}|${f[1].trim()}`;
    m.set(k, (m.get(k) ?? 0) + Number(delim === ',' ? f[2] : f[3]));
  }
  return m;
}

describeData('celegans', 'C. elegans edge lists (Cook 2019, White 1986)', () => {
  it('imports Cook 2019 and White 1986 with exact totals per pair', async () => {
    const { store } = await fresh();
    const cook = dataPath('celegans', 'herm_full_edgelist.csv');
    const white = dataPath('celegans', 'aconnectome_white_1986_whole.csv');
    const rep = await importEdges(store, [cook]);
    expect(rep[0].inserted).toBe(39702);
    const pairs = independentPairs(cook, ',');
    const got = await store.all(
      `SELECT a.name AS pre, b.name AS post, count(*) AS n FROM synapses s JOIN cells a ON a.pt_root_id = s.pre_pt_root_id JOIN cells b ON b.pt_root_id = s.post_pt_root_id GROUP BY 1, 2`,
    );
    expect(got.length).toBe(pairs.size);
    for (const g of got) expect(Number(g.n)).toBe(pairs.get(`${g.pre}|${g.post}`));
    expect(await store.all(`SELECT count(*) AS n FROM cells WHERE name LIKE '% %'`)).toEqual([{ n: 0n }]);
    const names = new Set([...pairs.keys()].flatMap((k) => k.split('|')));
    expect(await store.count('cells')).toBe(names.size);
    // White 1986 uses the same names: cells are shared, not duplicated
    const before = await store.count('cells');
    const w = await importEdges(store, [white]);
    expect(w[0].inserted).toBe(8914);
    const wn = new Set([...independentPairs(white, '\t').keys()].flatMap((k) => k.split('|')));
    const newNames = [...wn].filter((n) => !names.has(n)).length;
    expect(await store.count('cells')).toBe(before + newNames);
  });

  it('White 1986 A file (space-separated header, tab-separated rows)', async () => {
    const rows = await parseEdgeList(dataPath('celegans', 'aconnectome_white_1986_A.csv'));
    expect(rows.length).toBe(1899);
    expect(rows.reduce((s, r) => s + r.weight, 0)).toBe(4875);
    expect(rows[0]).toMatchObject({ pre: 'ADAL', post: 'ADFL', type: 'electrical', weight: 1 });
  });
});

describeData('hemibrain-da1', 'hemibrain DA1 SWC + synapse CSVs', () => {
  it('imports 5 skeletons as cells and every synapse row', async () => {
    const { store } = await fresh();
    const { readdirSync } = await import('node:fs');
    const swc = readdirSync(dataPath('hemibrain-da1', 'swc')).map((f) => dataPath('hemibrain-da1', 'swc', f));
    const rep = await importSwc(store, swc, { resolution: [8, 8, 8] });
    expect(rep.filter((r) => r.table === 'cells').length).toBe(5);
    expect(await store.count('cells')).toBe(5);
    const byKind = await store.all(`SELECT (pre_pt_root_id <> 0) AS is_pre, count(*) AS n FROM synapses GROUP BY 1 ORDER BY 1`);
    expect(byKind).toEqual([
      { is_pre: false, n: 11520n },
      { is_pre: true, n: 3316n },
    ]);
    const c = await store.all('SELECT * FROM cells WHERE pt_root_id = 722817260');
    expect(c[0]).toMatchObject({ cell_type: 'DA1_lPN', name: 'DA1_lPN_R', pt_position_x: 3484 * 8, pt_position_y: 21818 * 8 });
    const s = await store.all('SELECT * FROM synapses WHERE pre_pt_root_id = 1734350788 ORDER BY id LIMIT 1');
    expect(s[0]).toMatchObject({ pre_pt_position_x: 6444 * 8, ctr_pt_position_z: 14516 * 8, post_pt_root_id: 0n });
  });
});
