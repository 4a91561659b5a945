// compressed_segmentation encode/decode speed and size on the FIB-25 64^3 uint64 block, against
// Neuroglancer's own JavaScript codec when available; plus precomputed chunk write/read MB/s.
//
// Reference: the published npm package `neuroglancer` (lib/sliceview/compressed_segmentation).
// Get it once with:  mkdir -p /tmp/ngref && cd /tmp/ngref && npm pack neuroglancer@2.41.2 && tar xzf neuroglancer-2.41.2.tgz
// (or point NEUROGLANCER_PKG at an unpacked `package/` folder). Without it the reference columns are skipped.
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Vec3, boxFromShape } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import {
  PrecomputedLayer,
  type ShardingSpec,
  suggestSharding,
  compressedMortonCode,
  murmurhash3_x86_128_uint64,
  decodeCompressedSegmentation,
  encodeCompressedSegmentation,
  makeInfo,
} from '../src/formats/precomputed/index.js';
import { labels64, sameBytes } from '../src/formats/precomputed/testing.js';
import { dataPath } from '../test/data.js';

const FIB = 'neuroglancer-testdata/codec/compressed_segmentation/64x64x64-raw-uint64-segmentation.dat';
// the unpacked package, else the `neuroglancer` dependency in node_modules (same layout: lib/...)
const NG = process.env.NEUROGLANCER_PKG ?? (existsSync('/tmp/ngref/package/lib') ? '/tmp/ngref/package' : path.resolve('node_modules/neuroglancer'));

/**
 * Best (minimum) seconds of `reps` runs of fn after one warm-up. The machine is shared and
 * heavily loaded, so the minimum is the least noisy estimate of the code's own speed.
 */
async function time(fn: () => unknown, reps: number): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

interface NgCodec {
  encode(data: BigUint64Array, shape: Vec3, block: Vec3): Uint32Array;
  decode(enc: Uint32Array, shape: Vec3, block: Vec3): BigUint64Array;
}

async function loadNeuroglancer(): Promise<NgCodec | undefined> {
  const lib = path.join(NG, 'lib');
  if (!existsSync(path.join(lib, 'sliceview/compressed_segmentation/encode_uint64.js'))) return undefined;
  const imp = (p: string) => import(pathToFileURL(path.join(lib, p)).href);
  const enc = await imp('sliceview/compressed_segmentation/encode_uint64.js');
  const dec = await imp('sliceview/compressed_segmentation/decode_uint64.js');
  // TypedArrayBuilder (util/array.js) in newer releases, Uint32ArrayBuilder in 2.40
  const arr = await imp('util/array.js');
  const Builder = (arr.TypedArrayBuilder ? (n?: number) => new arr.TypedArrayBuilder(Uint32Array, n) : undefined) ?? (await (async () => {
    const { Uint32ArrayBuilder } = await imp('util/uint32array_builder.js');
    return (n?: number) => new Uint32ArrayBuilder(n);
  })());
  return {
    encode(data, shape, block) {
      const b = Builder();
      // the uint64 encoder reads lo/hi uint32 words
      enc.encodeChannels(b, block, new Uint32Array(data.buffer, data.byteOffset, data.length * 2), [...shape, 1]);
      return b.view as Uint32Array;
    },
    decode(e, shape, block) {
      // Neuroglancer's uint64 decoder writes lo/hi uint32 words
      const out = new Uint32Array(shape[0] * shape[1] * shape[2] * 2);
      dec.decodeChannels(out, e, 0, [...shape, 1], block);
      return new BigUint64Array(out.buffer);
    },
  };
}

export default async function run(): Promise<Record<string, unknown>> {
  const record: Record<string, unknown> = { machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model}; shared and loaded` };
  let data: BigUint64Array;
  let input: string;
  if (existsSync(dataPath(FIB))) {
    const buf = await fs.readFile(dataPath(FIB));
    data = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    input = 'FIB-25 64^3 uint64 block (neuroglancer-testdata)';
  } else {
    data = labels64(64 ** 3, 1, 30);
    input = 'synthetic 64^3 uint64 (FIB-25 block not found)';
  }
  record.input = input;
  const shape: Vec3 = [64, 64, 64];
  const nvox = 64 ** 3;
  const ng = await loadNeuroglancer();
  const rows: Array<Record<string, unknown>> = [];
  for (const block of [[8, 8, 8], [4, 4, 4], [16, 16, 16]] as Vec3[]) {
    const enc = encodeCompressedSegmentation(data, shape, 1, block);
    const dec = decodeCompressedSegmentation(enc, 'uint64', shape, 1, block);
    if (!sameBytes(dec, data)) throw new Error('compressed_segmentation round trip is not exact');
    const reps = 40;
    const tEnc = await time(() => encodeCompressedSegmentation(data, shape, 1, block), reps);
    const tDec = await time(() => decodeCompressedSegmentation(enc, 'uint64', shape, 1, block), reps);
    const row: Record<string, unknown> = {
      block: block.join('x'),
      bytes: enc.byteLength,
      percent_of_raw_uint64: +((100 * enc.byteLength) / data.byteLength).toFixed(3),
      encode_mvox_s: +(nvox / tEnc / 1e6).toFixed(1),
      decode_mvox_s: +(nvox / tDec / 1e6).toFixed(1),
    };
    if (ng) {
      const ref = ng.encode(data, shape, block);
      row.identical_to_neuroglancer = sameBytes(ref, enc);
      row.neuroglancer_decodes_ours_exactly = sameBytes(ng.decode(new Uint32Array(enc.buffer, enc.byteOffset, enc.byteLength / 4), shape, block), data);
      const tRefEnc = await time(() => ng.encode(data, shape, block), reps);
      const tRefDec = await time(() => ng.decode(ref, shape, block), 10);
      row.neuroglancer_encode_mvox_s = +(nvox / tRefEnc / 1e6).toFixed(1);
      row.neuroglancer_decode_mvox_s = +(nvox / tRefDec / 1e6).toFixed(1);
      row.encode_speedup = +(tRefEnc / tEnc).toFixed(2);
      row.decode_speedup = +(tRefDec / tDec).toFixed(2);
      if (!row.identical_to_neuroglancer || !row.neuroglancer_decodes_ours_exactly) throw new Error(`disagreement with Neuroglancer at block ${block}`);
    }
    rows.push(row);
  }
  record.compressed_segmentation = rows;

  // Sharding: our MurmurHash3_x86_128 (uint64 key) and compressed Morton codes against
  // Neuroglancer's util/hash.js and util/zorder.js on random inputs.
  if (ng) {
    const imp = (p: string) => import(pathToFileURL(path.join(NG, 'lib', p)).href);
    const { murmurHash3_x86_128Hash64Bits_Bigint } = await imp('util/hash.js');
    const { encodeZIndexCompressed } = await imp('util/zorder.js');
    if (typeof murmurHash3_x86_128Hash64Bits_Bigint !== 'function') {
      // neuroglancer 2.40 (the node_modules dependency) has only the Uint64-object API
      record.sharding_crosscheck = 'skipped: this neuroglancer release has no murmurHash3_x86_128Hash64Bits_Bigint (2.41.2 has; see the header)';
    } else {
    const r = labels64(20000, 9, 20000);
    let hashSame = 0;
    for (const x of r) if (murmurHash3_x86_128Hash64Bits_Bigint(0, x) === murmurhash3_x86_128_uint64(x)) hashSame++;
    let mortonSame = 0;
    const grids: Vec3[] = [[1, 1, 1], [671, 877, 1286], [5, 5, 3], [1024, 3, 70000], [2, 100, 1]];
    let n = 0;
    for (const grid of grids) {
      for (let i = 0; i < 2000; i++) {
        const g: Vec3 = [Number(r[i] % BigInt(grid[0])), Number((r[i] >> 20n) % BigInt(grid[1])), Number((r[i] >> 40n) % BigInt(grid[2]))];
        const theirs = BigInt(encodeZIndexCompressed(new Uint32Array(g), new Uint32Array(grid)));
        if (theirs === compressedMortonCode(g, grid)) mortonSame++;
        n++;
      }
    }
    record.sharding_crosscheck = { murmurhash_equal: `${hashSame}/${r.length}`, morton_equal: `${mortonSame}/${n}` };
    console.log('sharding cross-check vs Neuroglancer:', record.sharding_crosscheck);
    if (hashSame !== r.length || mortonSame !== n) throw new Error('sharding hash/Morton code disagree with Neuroglancer');
    }
  }
  record.reference = ng ? `neuroglancer npm package at ${NG}` : `not found (${NG}); see the header of this file`;

  // Chunk write/read throughput of whole layers (64^3 chunks), through the file system.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wiring-bench-pc-'));
  const io: Array<Record<string, unknown>> = [];
  try {
    const img = Volume.zeros('uint8', boxFromShape([256, 256, 128]));
    for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 2654435761) >>> 24;
    const seg = Volume.zeros('uint64', boxFromShape([128, 128, 128]));
    // Tile the FIB-25 block to fill the segmentation volume.
    for (let z = 0; z < 128; z++) for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) seg.data[x + 128 * (y + 128 * z)] = data[(x % 64) + 64 * ((y % 64) + 64 * (z % 64))];
    const cases = [
      { name: 'raw uint8', vol: img, type: 'image', encoding: 'raw', gzip: false },
      { name: 'raw uint8 + gzip', vol: img, type: 'image', encoding: 'raw', gzip: true },
      { name: 'raw uint64', vol: seg, type: 'segmentation', encoding: 'raw', gzip: false },
      { name: 'compressed_segmentation uint64', vol: seg, type: 'segmentation', encoding: 'compressed_segmentation', gzip: false },
      { name: 'compressed_segmentation uint64 + gzip', vol: seg, type: 'segmentation', encoding: 'compressed_segmentation', gzip: true },
      { name: 'compressed_segmentation uint64, sharded (identity, 8 chunks/shard)', vol: seg, type: 'segmentation', encoding: 'compressed_segmentation', gzip: false, sharded: 'identity' },
      { name: 'compressed_segmentation uint64, sharded (murmurhash, gzip data)', vol: seg, type: 'segmentation', encoding: 'compressed_segmentation', gzip: false, sharded: 'murmur' },
    ] as const;
    for (const c of cases) {
      const layerDir = path.join(dir, c.name.replace(/\W+/g, '-'));
      const sharded = 'sharded' in c ? c.sharded : undefined;
      const sharding: ShardingSpec | undefined =
        sharded === 'identity'
          ? suggestSharding([2, 2, 2], { log2ChunksPerShard: 3 })
          : sharded === 'murmur'
            ? { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 0, hash: 'murmurhash3_x86_128', minishard_bits: 1, shard_bits: 1, minishard_index_encoding: 'gzip', data_encoding: 'gzip' }
            : undefined;
      const info = makeInfo({ type: c.type, dtype: c.vol.dtype, shape: c.vol.shape, voxelSize: [8, 8, 8], chunkSize: [64, 64, 64], encoding: c.encoding, sharding });
      const layer = await PrecomputedLayer.create(layerDir, info, { gzip: c.gzip, overwrite: true });
      const mb = c.vol.data.byteLength / 1e6;
      const tw = await time(() => layer.writeBox(c.vol), 3);
      let back: Volume | undefined;
      const tr = await time(async () => {
        back = await layer.readBox(c.vol.box);
      }, 3);
      if (!back || !sameBytes(back.data, c.vol.data)) throw new Error(`${c.name}: read back differs`);
      let stored = 0;
      for (const f of await fs.readdir(path.join(layerDir, info.scales[0].key))) stored += (await fs.stat(path.join(layerDir, info.scales[0].key, f))).size;
      io.push({ case: c.name, mb: +mb.toFixed(1), write_mb_s: +(mb / tw).toFixed(0), read_mb_s: +(mb / tr).toFixed(0), stored_percent: +((100 * stored) / c.vol.data.byteLength).toFixed(2) });
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  record.chunk_io = io;
  console.log(`input: ${input}`);
  console.table(rows);
  console.table(io);
  return record;
}
