import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { runInProcess } from '../../../test/cli-in-process.js';
import { nameId } from '../../connectome/import.js';
import { register as analyse } from './analyse.js';
import { register as connectome } from './connectome.js';
import { register as query } from './query.js';

const cli = (args: string[]): Promise<string> => runInProcess([analyse, connectome, query], args);

describe('wiring connectome / query / analyse', () => {
  it('imports an edge list, queries in table/CSV/JSON, analyses with plots, exports and materializes', async () => {
    const dir = await tempDir('wiring-cxcli-');
    const edges = path.join(dir, 'e.csv');
    await writeFile(edges, 'Source,Target,Weight,Type\nA,B,3,chemical\nB,A,1,chemical\nA,C,2,chemical\nC,C,1,chemical\n');
    const db = path.join(dir, 'x.duckdb');
    const imp = JSON.parse(await cli(['connectome', 'import', 'edges', edges, db, '--json']));
    expect(imp.imports[0]).toMatchObject({ table: 'synapses', inserted: 7, cells: 3 });

    const csv = await cli(['query', db, 'connections', '--pre', 'A', '--format', 'csv']);
    expect(csv.trim().split('\n')).toEqual(['pre_name,post_name,pre_pt_root_id,post_pt_root_id,count,size_sum', `A,B,${nameId('A')},${nameId('B')},3,3`, `A,C,${nameId('A')},${nameId('C')},2,2`]);
    const js = JSON.parse(await cli(['query', db, 'synapses', '--pre', 'A,B', '--post', 'A', '--json']));
    expect(js.length).toBe(1);
    expect(js[0].pre_pt_root_id).toBe(String(nameId('B'))); // ids as strings in JSON
    const inputs = await cli(['query', db, 'inputs', 'C', '--exclude-self']);
    expect(inputs).toContain(String(nameId('A')));
    expect(inputs.trim().split('\n').length).toBe(4); // header, rule, 2 rows

    const plot = path.join(dir, 'h.png');
    const h = JSON.parse(await cli(['analyse', db, 'histogram', '--exclude-self', '--plot', plot, '--json']));
    expect(h.bins).toEqual([{ synapses: 1, pairs: 1 }, { synapses: 2, pairs: 1 }, { synapses: 3, pairs: 1 }]);
    expect((await sharp(await readFile(plot)).metadata()).format).toBe('png');
    const svg = path.join(dir, 'm.svg');
    const m = JSON.parse(await cli(['analyse', db, 'motifs', '--samples', '5', '--plot', svg, '--json']));
    expect(m.reciprocal_pairs.observed).toBe(1);
    expect((await readFile(svg, 'utf8')).startsWith('<svg')).toBe(true);

    const v = JSON.parse(await cli(['connectome', 'materialize', db, '--json']));
    expect(v.version).toBe(1);
    await expect(cli(['connectome', 'materialize', db, '--version', '1'])).rejects.toThrow(/already exists/);
    const ex = JSON.parse(await cli(['connectome', 'export', db, path.join(dir, 'out'), '--format', 'csv', '--json']));
    expect(ex.files.map((f: string) => path.basename(f))).toContain('synapses.csv');
    const info = JSON.parse(await cli(['connectome', 'info', db, '--json']));
    expect(info.counts.synapses).toBe(7);
    expect(info.versions[0].counts.synapses).toBe(7);
  });

  it('a failed import into a new database leaves no file; into an existing one leaves it unchanged', async () => {
    const dir = await tempDir('wiring-cxcli-');
    const bad = path.join(dir, 'bad.csv');
    await writeFile(bad, 'Source,Target,Weight\nA,B,1\nA,B,-2\n');
    const db = path.join(dir, 'new.duckdb');
    await expect(cli(['connectome', 'import', 'edges', bad, db])).rejects.toThrow(/bad\.csv: line 3, column weight/);
    expect(existsSync(db)).toBe(false);
    const good = path.join(dir, 'good.csv');
    await writeFile(good, 'Source,Target,Weight\nA,B,1\n');
    await cli(['connectome', 'import', 'edges', good, db]);
    await expect(cli(['connectome', 'import', 'edges', good, bad, db])).rejects.toThrow(/line 3/);
    const info = JSON.parse(await cli(['connectome', 'info', db, '--json']));
    expect(info.counts).toMatchObject({ synapses: 1, cells: 2 });
    await expect(cli(['query', db, 'nonsense'])).rejects.toThrow(/expected one of synapses/);
    await expect(cli(['query', path.join(dir, 'missing.duckdb'), 'cells'])).rejects.toThrow(/database file not found/);
  });

  it('imports a CAVE dump given with its header sidecar (as a glob would list them); ids above 2^63 come out exact', async () => {
    const dir = await tempDir('wiring-cxcli-');
    const { gzipSync } = await import('node:zlib');
    const big = (1n << 64n) - 1n;
    const a = 864691135639556411n;
    const rows = [
      [1, 't', a, big, 10],
      [2, 't', a, big, 20],
      [3, 'f', a, big, 40], // invalid: skipped
      [4, 't', big, big, 5], // self-synapse: kept, dropped by --exclude-self
      [5, 't', 0n, a, 7], // unassigned partner: kept
    ];
    await writeFile(path.join(dir, 'syn_merged.csv.gz'), gzipSync(rows.map((r) => r.join(',')).join('\r\n') + '\r\n'));
    await writeFile(path.join(dir, 'syn_merged_header.csv'), 'id,bigint\nvalid,boolean\npre_pt_root_id,bigint\npost_pt_root_id,bigint\nsize,integer\n');
    const db = path.join(dir, 'cave.duckdb');
    const rep = JSON.parse(await cli(['connectome', 'import', 'cave', path.join(dir, 'syn_merged.csv.gz'), path.join(dir, 'syn_merged_header.csv'), db, '--json']));
    expect(rep.imports).toEqual([expect.objectContaining({ table: 'synapses', inserted: 4, skipped: { 'valid=false': 1 } })]);
    const csv = await cli(['query', db, 'connections', '--format', 'csv']);
    expect(csv.trim().split('\n')).toEqual(['pre_pt_root_id,post_pt_root_id,count,size_sum', `${a},${big},2,30`, `0,${a},1,7`, `${big},${big},1,5`]);
    const noSelf = await cli(['query', db, 'connections', '--format', 'csv', '--exclude-self']);
    expect(noSelf.trim().split('\n').length).toBe(3);
  });
});
