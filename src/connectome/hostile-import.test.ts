// Hostile table inputs: gzip bombs, huge count-mode weights, corrupt Parquet, folders given as
// files, SWC node ids above 2^53. Each is a clear error naming the file (or an exact read).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { FormatError, UsageError } from '../core/errors.js';
import { parseSwc as parseSwcGraph } from '../formats/swc.js';
import { MAX_COUNT_SYNAPSES, exportAll, importCave, importEdges, importSwc, importTables, parseSwc } from './import.js';
import { ConnectomeStore } from './store.js';

const opened: ConnectomeStore[] = [];
async function fresh(): Promise<{ store: ConnectomeStore; dir: string }> {
  const dir = await tempDir('wiring-hostile-');
  const store = await ConnectomeStore.open(path.join(dir, 'ds.duckdb'));
  opened.push(store);
  return { store, dir };
}
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

async function errorOf(f: () => Promise<unknown>): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got none');
}

describe('gzip bombs in tables are refused with memory bounded', () => {
  it('a gzipped SWC / edge list past the text limit, and a CAVE CSV that inflates 1000x', async () => {
    const { store, dir } = await fresh();
    // 80 MB of one repeated line compresses to ~80 KB
    const line = Buffer.from('1 0 0 0 0 1 -1\n');
    const big = Buffer.alloc(80 * 1024 * 1024);
    for (let i = 0; i + line.length <= big.length; i += line.length) line.copy(big, i);
    const gz = gzipSync(big, { level: 9 });
    const csv = path.join(dir, 'syn.csv.gz');
    const header = 'id,pre_pt_root_id,post_pt_root_id,size\n';
    const rows = Buffer.alloc(80 * 1024 * 1024, 0x30);
    await fs.writeFile(csv, gzipSync(Buffer.concat([Buffer.from(header), rows]), { level: 9 }));
    const e = await errorOf(() => importCave(store, [csv]));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(csv);
    expect(e.message).toMatch(/gzip bomb/);
  });

  it('SWC and edge lists stream: gzip bombs of valid lines are refused at the ratio limit in bounded memory; a line without end is refused', async () => {
    const { store, dir } = await fresh();
    // 80 MB of lines each reader accepts (long SWC comments; edge rows of weight 0) gzip to ~100 KB
    const fill = (head: string, line: string) => {
      const l = Buffer.from(line);
      const big = Buffer.alloc(80 * 1024 * 1024);
      for (let i = 0; i + l.length <= big.length; i += l.length) l.copy(big, i);
      return gzipSync(Buffer.concat([Buffer.from(head), big]), { level: 9 });
    };
    const swc = path.join(dir, '1.swc');
    await fs.writeFile(swc, fill('1 1 0 0 0 1 -1\n', `# ${'a comment that says nothing '.repeat(40)}\n`));
    const edges = path.join(dir, 'edges.csv');
    await fs.writeFile(edges, fill('pre,post,weight\n', `${'A'.repeat(1000)},B,0\n`));
    for (const run of [() => parseSwc(swc), () => importEdges(store, [edges])]) {
      const before = process.memoryUsage();
      const s = await errorOf(run);
      expect(s).toBeInstanceOf(FormatError);
      expect(s.message).toMatch(/(1\.swc|edges\.csv): gzip data inflates more than 200 times .* \(a gzip bomb\)/);
      const after = process.memoryUsage();
      expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(40 * 1024 * 1024);
      expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * 1024 * 1024);
    }
    expect((await store.all('SELECT count(*) AS n FROM cells'))[0].n).toBe(0n);
    const long = path.join(dir, 'long.csv');
    await fs.writeFile(long, 'pre,post\n' + 'A'.repeat(2 * 1024 * 1024));
    expect((await errorOf(() => importEdges(store, [long]))).message).toMatch(/long\.csv: line 2 is longer than 1048576 bytes/);
  });

  it('files past the old read-whole limit (WIRING_MAX_TEXT_BYTES, here 1 MiB) now stream in: a 3 MB SWC and edge list', async () => {
    const { store, dir } = await fresh();
    const n = 100_000;
    const swcLines = ['# a chain of 100,000 nodes, ids above 2^53'];
    const BIG = 2n ** 60n;
    for (let i = 0; i < n; i++) swcLines.push(`${BIG + BIG * 0n + BigInt(i)} ${i === 0 ? 1 : 3} ${i} 0 0 1 ${i === 0 ? -1 : BIG + BigInt(i - 1)}`);
    const swc = path.join(dir, '42.swc');
    await fs.writeFile(swc, swcLines.join('\n') + '\n');
    const edges = path.join(dir, 'edges.csv');
    await fs.writeFile(edges, 'pre,post,weight\n' + Array.from({ length: n }, (_, i) => `cell ${i % 997},cell ${(i * 7) % 991},1`).join('\n') + '\n');
    expect((await fs.stat(swc)).size + (await fs.stat(edges)).size).toBeGreaterThan(3 * 1024 * 1024);
    process.env.WIRING_MAX_TEXT_BYTES = String(1024 * 1024);
    try {
      const nodes = await parseSwc(swc);
      expect(nodes.length).toBe(n);
      expect(nodes[n - 1].id).toBe(BIG + BigInt(n - 1));
      expect(nodes[n - 1].parent).toBe(BIG + BigInt(n - 2));
      expect((await importSwc(store, [swc])).find((r) => r.table === 'cells')?.inserted).toBe(1);
      const rep = await importEdges(store, [edges]);
      expect(rep[0].inserted).toBe(n);
      expect((await store.all('SELECT count(*) AS n FROM synapses'))[0].n).toBe(BigInt(n));
    } finally {
      delete process.env.WIRING_MAX_TEXT_BYTES;
    }
  });
});

describe('edge lists', () => {
  it('a weight of 2^64 in count mode is refused at once; size mode keeps it as a size', async () => {
    const { store, dir } = await fresh();
    const f = path.join(dir, 'edges.csv');
    await fs.writeFile(f, 'pre,post,weight\nA,B,3\nB,C,18446744073709551616\n');
    const e = await errorOf(() => importEdges(store, [f]));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(f);
    expect(e.message).toMatch(new RegExp(`line 3: weight .* more than ${MAX_COUNT_SYNAPSES} synapse rows`));
    expect((await store.all('SELECT count(*) AS n FROM synapses'))[0].n).toBe(0n);
    const rep = await importEdges(store, [f], { weight: 'size' });
    expect(rep[0].inserted).toBe(2);
  });
});

describe('broken Parquet and folders given as files', () => {
  it('a Parquet file with a valid footer over corrupt pages is a FormatError naming it', async () => {
    const { store, dir } = await fresh();
    await store.insertColumns('cells', { pt_root_id: Array.from({ length: 2000 }, (_, i) => BigInt(i + 1)), cell_type: Array.from({ length: 2000 }, (_, i) => `type${i % 7}`) }, 2000);
    const [file] = (await exportAll(store, path.join(dir, 'out'), 'parquet')).filter((f) => f.endsWith('cells.parquet'));
    const bytes = new Uint8Array(await fs.readFile(file));
    // scribble over the data pages, keep the footer (its last 8 bytes and the metadata before them)
    const footerLen = new DataView(bytes.buffer).getUint32(bytes.length - 8, true);
    for (let i = 4; i < bytes.length - footerLen - 8; i += 3) bytes[i] = (i * 131) & 0xff;
    const bad = path.join(dir, 'cells.parquet');
    await fs.writeFile(bad, bytes);
    const other = await ConnectomeStore.open(path.join(dir, 'other.duckdb'));
    opened.push(other);
    for (const run of [() => importTables(other, [bad]), () => importCave(other, [bad], { table: 'cells' })]) {
      const e = await errorOf(run);
      expect(e).toBeInstanceOf(FormatError);
      expect(e.message).toContain(bad);
      expect(e.message).not.toMatch(/^TProtocolException/);
    }
  });

  it('a folder where a file is expected is a UsageError, not EISDIR', async () => {
    const { store, dir } = await fresh();
    const d = path.join(dir, 'folder.csv');
    await fs.mkdir(d);
    for (const run of [() => importCave(store, [d]), () => importEdges(store, [d]), () => importTables(store, [d]), () => parseSwc(d)]) {
      const e = await errorOf(run);
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toContain(d);
      expect(e.message).toMatch(/is a folder; expected a file/);
    }
  });
});

describe('SWC node ids above 2^53 are exact', () => {
  const BIG = 2n ** 53n;
  const text = `# ids near 2^53\n${BIG} 1 0 0 0 1 -1\n${BIG + 1n} 3 1 0 0 1 ${BIG}\n${BIG + 2n} 3 2 0 0 1 ${BIG + 1n}\n18446744073709551615 3 3 0 0 1 ${BIG + 2n}\n`;

  it('formats/swc keeps them distinct (as numbers, 2^53 and 2^53+1 were "the same id")', () => {
    const g = parseSwcGraph(text, { where: 'big.swc' });
    expect([...g.ids!]).toEqual([BIG, BIG + 1n, BIG + 2n, 2n ** 64n - 1n]);
    expect(Array.from(g.edges)).toEqual([1, 0, 2, 1, 3, 2]);
    expect(() => parseSwcGraph(`${BIG} 1 0 0 0 1 -1\n${BIG} 1 0 0 0 1 -1\n`, { where: 'dup.swc' })).toThrow(`dup.swc: node id ${BIG} appears twice`);
    expect(() => parseSwcGraph('18446744073709551616 1 0 0 0 1 -1\n', { where: 'o.swc' })).toThrow(/o.swc: line 1: node id .* larger than 2\^64-1/);
    expect(() => parseSwcGraph('1.5 1 0 0 0 1 -1\n', { where: 'f.swc' })).toThrow(/f.swc: line 1: node id "1.5" is not a whole number/);
  });

  it('connectome SWC import reads them exactly and imports the cell', async () => {
    const { store, dir } = await fresh();
    const f = path.join(dir, '7.swc');
    await fs.writeFile(f, text);
    const nodes = await parseSwc(f);
    expect(nodes.map((n) => n.id)).toEqual([BIG, BIG + 1n, BIG + 2n, 2n ** 64n - 1n]);
    expect(nodes.map((n) => n.parent)).toEqual([-1n, BIG, BIG + 1n, BIG + 2n]);
    const rep = await importSwc(store, [f]);
    expect(rep.find((r) => r.table === 'cells')?.inserted).toBe(1);
  });
});
