import { readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../test/data.js';
import { box } from '../core/box.js';
import { FormatError, UsageError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { byteSwap, npyHeaderBytes, openNpy, parseNpyHeader, writeNpy } from './npy.js';

function headerFor(descr: string, fortran: boolean, shape: number[], version = 1): Uint8Array {
  const s = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${s}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const text = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const len = total - pre;
  out[8] = len & 255;
  out[9] = len >> 8;
  for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
  return out;
}

async function writeRaw(file: string, head: Uint8Array, body: Uint8Array): Promise<void> {
  const all = new Uint8Array(head.length + body.length);
  all.set(head);
  all.set(body, head.length);
  await fs.writeFile(file, all);
}

describe('npy header', () => {
  it('parses v1, v2, v3 and rejects junk', () => {
    for (const v of [1, 2, 3]) {
      const h = parseNpyHeader(headerFor('<u2', false, [3, 4, 5], v), 'x.npy');
      expect(h.dims).toEqual([3, 4, 5]);
      expect(h.descr).toBe('<u2');
      expect(h.version[0]).toBe(v);
      expect(h.dataOffset % 64).toBe(0);
    }
    expect(() => parseNpyHeader(new Uint8Array(5), 'x.npy')).toThrow(FormatError);
    const bad = headerFor('<u2', false, [3, 4]);
    bad[20] = '@'.charCodeAt(0);
    expect(() => parseNpyHeader(bad, 'x.npy')).toThrow(/x\.npy/);
  });
  it('our writer produces what the parser reads', () => {
    const h = parseNpyHeader(npyHeaderBytes('uint64', [2, 3, 4]), 'w.npy');
    expect(h).toMatchObject({ descr: '<u8', fortranOrder: false, dims: [2, 3, 4] });
  });
});

describe('npy reader', () => {
  it('reads C-order 3-D sub-boxes as [x, y, z]', async () => {
    const dir = await tempDir();
    const shape = [4, 5, 6]; // z, y, x
    const data = new Uint16Array(4 * 5 * 6).map((_, i) => i * 7);
    await writeRaw(path.join(dir, 'a.npy'), headerFor('<u2', false, shape), new Uint8Array(data.buffer));
    const src = await openNpy(path.join(dir, 'a.npy'));
    expect(src.shape).toEqual([6, 5, 4]);
    expect(src.dtype).toBe('uint16');
    const v = await src.read(box([1, 2, 1], [5, 4, 3]));
    for (let z = 1; z < 3; z++) for (let y = 2; y < 4; y++) for (let x = 1; x < 5; x++) expect(v.get(x, y, z)).toBe(data[x + 6 * (y + 5 * z)]);
    const all = await src.read(box([0, 0, 0], [6, 5, 4]));
    expect([...all.data]).toEqual(Array.from(data));
  });

  it('reads Fortran order and big-endian the same as C order little-endian', async () => {
    const dir = await tempDir();
    const [Z, Y, X] = [3, 4, 5];
    const c = new Int32Array(Z * Y * X).map((_, i) => i * 1000 - 7000);
    // Fortran: index z + Z*(y + Y*x)
    const f = new Int32Array(Z * Y * X);
    for (let z = 0; z < Z; z++) for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++) f[z + Z * (y + Y * x)] = c[x + X * (y + Y * z)];
    const fbe = new Uint8Array(f.slice().buffer);
    byteSwap(fbe, 4);
    await writeRaw(path.join(dir, 'c.npy'), headerFor('<i4', false, [Z, Y, X]), new Uint8Array(c.buffer));
    await writeRaw(path.join(dir, 'f.npy'), headerFor('>i4', true, [Z, Y, X]), fbe);
    const a = await openNpy(path.join(dir, 'c.npy'));
    const b = await openNpy(path.join(dir, 'f.npy'));
    for (const bx of [box([0, 0, 0], [5, 4, 3]), box([1, 1, 1], [4, 3, 2]), box([4, 3, 2], [5, 4, 3])]) {
      const va = await a.read(bx);
      const vb = await b.read(bx);
      expect([...vb.data]).toEqual([...va.data]);
    }
  });

  it('maps 2-D to z=1, 4-D to channels, 1 voxel, empty boxes, out-of-bounds', async () => {
    const dir = await tempDir();
    await writeRaw(path.join(dir, 'two.npy'), headerFor('|u1', false, [2, 3]), new Uint8Array([1, 2, 3, 4, 5, 6]));
    const two = await openNpy(path.join(dir, 'two.npy'));
    expect(two.shape).toEqual([3, 2, 1]);
    expect([...(await two.read(box([1, 1, 0], [3, 2, 1]))).data]).toEqual([5, 6]);
    expect((await two.read(box([1, 1, 0], [1, 2, 1]))).data.length).toBe(0);
    await expect(two.read(box([0, 0, 0], [4, 2, 1]))).rejects.toThrow(UsageError);
    const four = new Uint8Array(2 * 1 * 2 * 2).map((_, i) => i);
    await writeRaw(path.join(dir, 'four.npy'), headerFor('|u1', false, [2, 1, 2, 2]), four);
    const s4 = await openNpy(path.join(dir, 'four.npy'));
    expect([s4.shape, s4.channels]).toEqual([[2, 2, 1], 2]);
    const v = await s4.read(box([1, 0, 0], [2, 2, 1]));
    expect([...v.data]).toEqual([1, 3, 5, 7]);
    await writeRaw(path.join(dir, 'one.npy'), headerFor('<f4', false, [1, 1, 1]), new Uint8Array(new Float32Array([2.5]).buffer));
    expect([...(await (await openNpy(path.join(dir, 'one.npy'))).read(box([0, 0, 0], [1, 1, 1]))).data]).toEqual([2.5]);
  });

  it('converts f8 to float32 and i8 to uint64, rejecting negative int64 with the voxel', async () => {
    const dir = await tempDir();
    await writeRaw(path.join(dir, 'd.npy'), headerFor('<f8', false, [1, 2]), new Uint8Array(new Float64Array([0.1, 1e300]).buffer));
    const d = await openNpy(path.join(dir, 'd.npy'));
    expect(d.dtype).toBe('float32');
    expect(d.nativeDtype).toBe('f8');
    expect([...(await d.read(box([0, 0, 0], [2, 1, 1]))).data]).toEqual([Math.fround(0.1), Infinity]);
    await writeRaw(path.join(dir, 'i.npy'), headerFor('<i8', false, [1, 3]), new Uint8Array(new BigInt64Array([5n, 2n ** 62n, -1n]).buffer));
    const i = await openNpy(path.join(dir, 'i.npy'));
    expect(i.dtype).toBe('uint64');
    expect([...(await i.read(box([0, 0, 0], [2, 1, 1]))).data]).toEqual([5n, 2n ** 62n]);
    await expect(i.read(box([0, 0, 0], [3, 1, 1]))).rejects.toThrow(/i\.npy.*-1 at voxel \[2, 0, 0\]/);
  });

  it('rejects unsupported types, truncated data and bad headers with the file name', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'bad.npy');
    await writeRaw(f, headerFor('<c8', false, [2]), new Uint8Array(16));
    await expect(openNpy(f)).rejects.toThrow(/bad\.npy.*'c8'/);
    await writeRaw(f, headerFor('<u2', false, [10, 10]), new Uint8Array(150));
    await expect(openNpy(f)).rejects.toThrow(/bad\.npy: truncated/);
    await writeRaw(f, headerFor('<u2', false, [2, 2, 2, 2, 2]), new Uint8Array(64));
    await expect(openNpy(f)).rejects.toThrow(/5 dimensions/);
    await expect(openNpy(path.join(dir, 'missing.npy'))).rejects.toThrow(UsageError);
  });

  it('round-trips uint64 ids above 2^53 through writeNpy', async () => {
    const dir = await tempDir();
    const ids = new BigUint64Array([2n ** 53n + 1n, 2n ** 64n - 1n, 0n, 18446744073709551557n]);
    await writeNpy(path.join(dir, 'ids.npy'), Volume.from('uint64', [2, 2, 1], ids));
    const s = await openNpy(path.join(dir, 'ids.npy'));
    expect([...(await s.read(box([0, 0, 0], [2, 2, 1]))).data]).toEqual(Array.from(ids));
  });
});

describeData('neuroglancer-testdata/codec/npy', 'npy: neuroglancer test files (le/be) match their JSON', () => {
  for (const t of ['uint8', 'uint16', 'uint32', 'uint64', 'float32']) {
    it(t, async () => {
      const json = readFileSync(dataPath('neuroglancer-testdata/codec/npy', `npy_test.${t}.json`), 'utf8');
      const ref = JSON.parse(json) as { shape: number[]; data: (number | string)[] };
      const files = t === 'uint8' ? ['npy_test.uint8.npy'] : [`npy_test.${t}-le.npy`, `npy_test.${t}-be.npy`];
      for (const f of files) {
        const s = await openNpy(dataPath('neuroglancer-testdata/codec/npy', f));
        expect(s.shape).toEqual([ref.shape[2], ref.shape[1], ref.shape[0]]);
        const v = await s.read(box([0, 0, 0], s.shape));
        const got = Array.from(v.data as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? x.toString() : x));
        const want = ref.data.map((x) => (t === 'uint64' ? String(x) : t === 'float32' ? Math.fround(Number(x)) : Number(x)));
        expect(got).toEqual(want);
      }
    });
  }
});
