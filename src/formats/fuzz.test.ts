// Seeded fuzzing of every reader: mutated headers/metadata, truncated or corrupted chunks and
// slices. Each case must either read or fail with a FormatError/UsageError naming the file -
// never another error type, never a hang (each case is raced against a 20 s timer; a normal case takes milliseconds).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { type Box, boxFromShape } from '../core/box.js';
import { WiringError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { exportVolume } from './export.js';
import { openHdf5 } from './hdf5.js';
import { encodeTiffStack } from './imagestack.js';
import { writeNpy } from './npy.js';
import { openSource } from './open.js';
import { mulberry32 as rng } from '../core/random.js';

function mutate(bytes: Uint8Array, r: () => number, region = bytes.length): Uint8Array {
  const out = bytes.slice();
  const op = Math.floor(r() * 4);
  if (op === 0) return out.subarray(0, Math.floor(r() * out.length)); // truncate
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * Math.min(region, out.length));
    if (op === 1) out[at] ^= 1 << Math.floor(r() * 8); // bit flip
    else if (op === 2) out[at] = Math.floor(r() * 256); // random byte
    else out[at] = '0123456789(),: \'"{}[]<>|uifbcTrueFalse'.charCodeAt(Math.floor(r() * 38)); // plausible header chars
  }
  return out;
}

type Outcome = 'ok' | 'error';

/** Open `spec` and read a small box; only WiringErrors naming `name` are allowed. */
async function probe(spec: string, name: string): Promise<Outcome> {
  const work = (async (): Promise<Outcome> => {
    try {
      const s = await openSource(spec);
      const b: Box = boxFromShape([Math.min(s.shape[0], 16), Math.min(s.shape[1], 16), Math.min(s.shape[2], 4)], s.offset);
      await s.read(b);
      await s.close();
      return 'ok';
    } catch (e) {
      if (!(e instanceof WiringError)) throw new Error(`${spec}: non-Wiring error ${(e as Error)?.name}: ${(e as Error)?.message}`);
      if (!e.message.includes(name)) throw new Error(`${spec}: error does not name ${name}: ${e.message}`);
      return 'error';
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${spec}: hang (no answer within 20 s)`)), 20_000);
  });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

const ramp = (n: number) => new Uint16Array(n).map((_, i) => (i * 131) % 65536);

describe('fuzz (seeded)', () => {
  it('NPY: mutated headers and truncated data', async () => {
    const dir = await tempDir();
    const good = path.join(dir, 'good.npy');
    await writeNpy(good, Volume.from('uint16', [8, 6, 4], ramp(192)));
    const bytes = new Uint8Array(await fs.readFile(good));
    const r = rng(1);
    const counts = { ok: 0, error: 0 };
    for (let i = 0; i < 150; i++) {
      const f = path.join(dir, `m${i}.npy`);
      await fs.writeFile(f, mutate(bytes, r, 128));
      counts[await probe(f, `m${i}.npy`)]++;
    }
    expect(counts.error).toBeGreaterThan(30);
  });

  it('Zarr: mutated .zarray / zarr.json metadata and truncated or corrupted chunks', async () => {
    const dir = await tempDir();
    const vol = Volume.from('uint16', [8, 6, 4], ramp(192));
    const src = await openSource(await (async () => {
      const f = path.join(dir, 'v.npy');
      await writeNpy(f, vol);
      return f;
    })());
    const r = rng(2);
    const counts = { ok: 0, error: 0 };
    for (const fmt of [2, 3] as const) {
      const base = path.join(dir, `base${fmt}.zarr`);
      await exportVolume(src, base, { zarrFormat: fmt, chunkSize: [4, 3, 2] });
      const metaRel = fmt === 2 ? path.join('0', '.zarray') : path.join('0', 'zarr.json');
      const meta = new Uint8Array(await fs.readFile(path.join(base, metaRel)));
      const chunkRel = fmt === 2 ? path.join('0', '0', '0', '0') : path.join('0', 'c', '0', '0', '0');
      const chunk = new Uint8Array(await fs.readFile(path.join(base, chunkRel)));
      for (let i = 0; i < 40; i++) {
        const name = `z${fmt}-${i}.zarr`;
        const d = path.join(dir, name);
        await fs.cp(base, d, { recursive: true });
        if (i % 2 === 0) await fs.writeFile(path.join(d, metaRel), mutate(meta, r));
        else await fs.writeFile(path.join(d, chunkRel), mutate(chunk, r));
        counts[await probe(d, name)]++;
      }
      // a chunk that is valid gzip but the wrong size
      const d = path.join(dir, `short${fmt}.zarr`);
      await fs.cp(base, d, { recursive: true });
      await fs.writeFile(path.join(d, chunkRel), gzipSync(new Uint8Array(10)));
      expect(await probe(d, `short${fmt}.zarr`)).toBe('error');
    }
    expect(counts.error).toBeGreaterThan(20);
  });

  it('PNG stack: a corrupted or truncated slice is named', async () => {
    const dir = await tempDir();
    const r = rng(3);
    const img = await sharp(new Uint8Array(64 * 48).map((_, i) => i % 251), { raw: { width: 64, height: 48, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    let errors = 0;
    for (let i = 0; i < 25; i++) {
      const d = path.join(dir, `stack${i}`);
      await fs.mkdir(d);
      for (let z = 0; z < 3; z++) await fs.writeFile(path.join(d, `s${z}.png`), z === 1 ? mutate(new Uint8Array(img), r) : img);
      const out = await probe(d, 's1.png').catch((e) => {
        throw e;
      });
      if (out === 'error') errors++;
    }
    expect(errors).toBeGreaterThan(5);
  });

  it('multi-page TIFF: mutated IFDs (including loops) and truncation', async () => {
    const dir = await tempDir();
    const tif = encodeTiffStack(Volume.from('uint16', [8, 6, 4], ramp(192)));
    const r = rng(4);
    let errors = 0;
    for (let i = 0; i < 80; i++) {
      const f = path.join(dir, `t${i}.tif`);
      await fs.writeFile(f, mutate(tif, r));
      if ((await probe(f, `t${i}.tif`)) === 'error') errors++;
    }
    // an IFD chain that points back to itself
    const loop = tif.slice();
    const dv = new DataView(loop.buffer);
    const first = dv.getUint32(4, true);
    const n = dv.getUint16(first, true);
    dv.setUint32(first + 2 + n * 12, first, true);
    await fs.writeFile(path.join(dir, 'loop.tif'), loop);
    expect(await probe(path.join(dir, 'loop.tif'), 'loop.tif')).toBe('error');
    expect(errors).toBeGreaterThan(10);
  });

  it('HDF5: truncated and mutated files', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'g.h5');
    const src = await openSource(await (async () => {
      const n = path.join(dir, 'v.npy');
      await writeNpy(n, Volume.from('uint16', [8, 6, 4], ramp(192)));
      return n;
    })());
    await exportVolume(src, `${f}#d`, { chunkSize: [4, 3, 2] });
    const bytes = new Uint8Array(await fs.readFile(f));
    const r = rng(5);
    for (let i = 0; i < 12; i++) {
      const name = `h${i}.h5`;
      await fs.writeFile(path.join(dir, name), bytes.subarray(0, Math.floor(r() * bytes.length)));
      expect(await probe(`${path.join(dir, name)}#d`, name)).toBe('error');
    }
    // random byte mutations anywhere (metadata or gzip chunks): a WiringError or a read, never another error
    let errors = 0;
    for (let i = 0; i < 60; i++) {
      const name = `hm${i}.h5`;
      await fs.writeFile(path.join(dir, name), mutate(bytes, r));
      if ((await probe(`${path.join(dir, name)}#d`, name)) === 'error') errors++;
    }
    expect(errors).toBeGreaterThan(5);
    void openHdf5;
  });
});
