import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { ConnectomeStore } from '../connectome/store.js';
import { SynapseAnnotations } from './annotations.js';

let store: ConnectomeStore;
const rows: Array<{ id: bigint; pre: bigint; post: bigint; p: [number, number, number]; size: number }> = [];

function decodeList(buf: Buffer): Array<{ id: bigint; p: number[]; size: number }> {
  const n = Number(buf.readBigUInt64LE(0));
  expect(buf.length).toBe(8 + n * 24);
  return Array.from({ length: n }, (_, k) => ({
    id: buf.readBigUInt64LE(8 + 16 * n + 8 * k),
    p: [buf.readFloatLE(8 + 16 * k), buf.readFloatLE(12 + 16 * k), buf.readFloatLE(16 + 16 * k)],
    size: buf.readFloatLE(20 + 16 * k),
  }));
}

beforeAll(async () => {
  store = await ConnectomeStore.open(path.join(await tempDir('wiring-annotations-'), 'c.duckdb'));
  let a = 5;
  const rand = () => ((a = (a * 1103515245 + 12345) % 2147483648) / 2147483648);
  const cells = [1n, 2n, 3n, (1n << 64n) - 1n];
  for (let i = 0; i < 2000; i++) {
    rows.push({ id: (1n << 60n) + BigInt(i), pre: cells[i % 4], post: cells[(i * 7 + 1) % 4], p: [Math.round(rand() * 40000), Math.round(rand() * 20000), 100 + Math.round(rand() * 3000)], size: i % 50 });
  }
  await store.insertSynapses(rows.map((r) => ({ id: r.id, pre_pt_root_id: r.pre, post_pt_root_id: r.post, pre_pt_position: r.p, post_pt_position: r.p, ctr_pt_position: r.p, size: r.size })));
});
afterAll(async () => {
  await store?.close();
});

describe('SynapseAnnotations', () => {
  it('puts every synapse in exactly one spatial chunk, inside that chunk', async () => {
    const ann = (await SynapseAnnotations.build(store, { perChunk: 100 }))!;
    const info = ann.info() as any;
    const [level] = info.spatial;
    expect(level.grid_shape.reduce((x: number, y: number) => x * y, 1)).toBeGreaterThan(4);
    const seen = new Map<bigint, number[]>();
    let maxInChunk = 0;
    for (let i = 0; i < level.grid_shape[0]; i++) for (let j = 0; j < level.grid_shape[1]; j++) for (let k = 0; k < level.grid_shape[2]; k++) {
      const buf = ann.spatialChunk(`${i}_${j}_${k}`);
      if (!buf) continue;
      const list = decodeList(buf);
      maxInChunk = Math.max(maxInChunk, list.length);
      for (const a of list) {
        expect(seen.has(a.id)).toBe(false);
        seen.set(a.id, a.p);
        [i, j, k].forEach((c, ax) => {
          const lo = info.lower_bound[ax] + c * level.chunk_size[ax];
          expect(a.p[ax]).toBeGreaterThanOrEqual(lo - 1e-3);
          expect(a.p[ax]).toBeLessThanOrEqual(lo + level.chunk_size[ax] + 1e-3);
        });
      }
    }
    expect(seen.size).toBe(rows.length);
    expect(level.limit).toBe(maxInChunk);
    for (const r of rows) expect(seen.get(r.id)).toEqual(r.p);
    for (const r of rows) for (let a = 0; a < 3; a++) expect(r.p[a] >= info.lower_bound[a] && r.p[a] < info.upper_bound[a]).toBe(true);
  });
  it('indexes synapses by pre and post segment (64-bit ids) and by id', async () => {
    const ann = (await SynapseAnnotations.build(store))!;
    const max = (1n << 64n) - 1n;
    const pre = decodeList(ann.related('pre', max)!).map((a) => a.id);
    expect(pre).toEqual(rows.filter((r) => r.pre === max).map((r) => r.id));
    const post = decodeList(ann.related('post', 2n)!).map((a) => a.id);
    expect(post).toEqual(rows.filter((r) => r.post === 2n).map((r) => r.id));
    expect(ann.related('pre', 99n)).toBeNull();
    const r = rows[123];
    const one = ann.byIdEntry(r.id)!;
    expect([one.readFloatLE(0), one.readFloatLE(4), one.readFloatLE(8), one.readFloatLE(12)]).toEqual([...r.p, r.size]);
    expect([one.readUInt32LE(16), one.readBigUInt64LE(20), one.readUInt32LE(28), one.readBigUInt64LE(32)]).toEqual([1, r.pre, 1, r.post]);
    expect(ann.byIdEntry(5n)).toBeNull();
  });
  it('declines more synapses than the limit', async () => {
    expect(await SynapseAnnotations.build(store, { maxSynapses: 10 })).toBeNull();
  });
});
