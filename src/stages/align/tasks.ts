/**
 * Rendering an aligned layer blockwise through the scheduler: each block reads, section by
 * section, only the raw rectangle its output pulls from (sourceRect), and samples it through the
 * section's transform (bilinear for images, nearest for labels, exact for uint64 ids). Missing
 * sections are kept as they are, or filled from the nearest good sections ('copy') or by a
 * distance-weighted blend of the good sections before and after ('interpolate', images only).
 * The block function reads the transforms file itself, so workers on other machines need only
 * the same paths.
 */
import { promises as fs } from 'node:fs';
import { type Box, type Vec3, boxFromShape, boxShape } from '../../core/box.js';
import type { DataType } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { openSource } from '../../formats/open.js';
import type { VolumeSource } from '../../formats/source.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import { type SectionTransform, type TransformsFile, checkTransformsFit, parseTransforms, pullback } from './transform.js';
import { type Sampling, sourceRect } from './warp.js';

export type Fill = 'none' | 'copy' | 'interpolate';
export const FILLS: Fill[] = ['none', 'copy', 'interpolate'];

export interface RenderParams {
  /** Source spec of the layer to warp (openSource). */
  source: string;
  /** The transforms file. */
  transforms: string;
  sampling: Sampling;
  fill: Fill;
}

const cache = new Map<string, Promise<TransformsFile>>();

/** Read and validate a transforms file (cached per path within a thread). */
export function loadTransforms(file: string): Promise<TransformsFile> {
  let p = cache.get(file);
  if (!p) {
    p = (async () => {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read the transforms file (${(err as Error).message})`, file);
      }
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (err) {
        throw new UsageError(`not JSON (${(err as Error).message})`, file);
      }
      return parseTransforms(doc, file);
    })();
    cache.set(file, p);
    p.catch(() => cache.delete(file));
  }
  return p;
}

/** Sections rendered into section z: [[section index, weight]]. */
export function fillPlan(tf: TransformsFile, i: number, fill: Fill, labels: boolean): Array<[number, number]> {
  const s = tf.sections;
  if (s[i].status !== 'missing' || fill === 'none') return [[i, 1]];
  const good = (k: number) => k >= 0 && k < s.length && s[k].status !== 'missing' && s[k].status !== 'damaged';
  let a = i - 1;
  while (a >= 0 && !good(a)) a--;
  let b = i + 1;
  while (b < s.length && !good(b)) b++;
  const hasA = a >= 0;
  const hasB = b < s.length;
  if (!hasA && !hasB) return [[i, 1]];
  if (fill === 'copy' || labels || !hasA || !hasB) {
    if (!hasB || (hasA && i - a <= b - i)) return [[a, 1]];
    return [[b, 1]];
  }
  const wa = (b - i) / (b - a);
  return [
    [a, wa],
    [b, 1 - wa],
  ];
}

/** Sample section t of src over the output rectangle (x0, y0, w, h) (layer-relative pixels). */
async function renderRect(src: VolumeSource, t: SectionTransform, z: number, x0: number, y0: number, w: number, h: number, sampling: Sampling): Promise<{ values: Float64Array | null; ids: BigUint64Array | null; inside: Uint8Array }> {
  const [sw, sh] = src.shape;
  const [ox, oy] = src.offset;
  const r = sourceRect(t, x0, y0, w, h);
  const rx0 = Math.max(0, r.x0);
  const ry0 = Math.max(0, r.y0);
  const rx1 = Math.min(sw, r.x1);
  const ry1 = Math.min(sh, r.y1);
  const inside = new Uint8Array(w * h);
  const isIds = src.dtype === 'uint64';
  const values = isIds ? null : new Float64Array(w * h);
  const ids = isIds ? new BigUint64Array(w * h) : null;
  if (rx1 <= rx0 || ry1 <= ry0) return { values, ids, inside };
  const vol = await src.read({ min: [ox + rx0, oy + ry0, z], max: [ox + rx1, oy + ry1, z + 1] });
  const rw = rx1 - rx0;
  const rh = ry1 - ry0;
  const d = vol.data as unknown as ArrayLike<number | bigint>;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = x + w * y;
      const [px, py] = pullback(t, x0 + x, y0 + y);
      const fx = px - rx0;
      const fy = py - ry0;
      if (sampling === 'nearest' || isIds) {
        const xi = Math.floor(fx + 0.5);
        const yi = Math.floor(fy + 0.5);
        if (xi < 0 || yi < 0 || xi >= rw || yi >= rh || px < -0.5 || py < -0.5 || px > sw - 0.5 || py > sh - 0.5) continue;
        inside[o] = 1;
        if (ids) ids[o] = d[xi + rw * yi] as bigint;
        else values![o] = d[xi + rw * yi] as number;
      } else {
        if (!(fx >= 0 && fy >= 0 && fx <= rw - 1 && fy <= rh - 1)) continue;
        let xa = Math.floor(fx);
        let ya = Math.floor(fy);
        if (xa === rw - 1) xa = Math.max(0, rw - 2);
        if (ya === rh - 1) ya = Math.max(0, rh - 2);
        const tx = fx - xa;
        const ty = fy - ya;
        const i = xa + rw * ya;
        const dx = rw > 1 ? 1 : 0;
        const dy = rh > 1 ? rw : 0;
        const a = (d[i] as number) + tx * ((d[i + dx] as number) - (d[i] as number));
        const b = (d[i + dy] as number) + tx * ((d[i + dy + dx] as number) - (d[i + dy] as number));
        values![o] = a + ty * (b - a);
        inside[o] = 1;
      }
    }
  }
  return { values, ids, inside };
}

const RANGES: Partial<Record<DataType, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  uint32: [0, 4294967295],
  int32: [-2147483648, 2147483647],
};

const sources = new Map<string, Promise<VolumeSource>>();
function source(spec: string): Promise<VolumeSource> {
  let s = sources.get(spec);
  if (!s) {
    s = openSource(spec);
    sources.set(spec, s);
    s.catch(() => sources.delete(spec));
  }
  return s;
}

/** Block function: the aligned volume over ctx.box. */
export async function alignRenderBlock(ctx: BlockContext<RenderParams>): Promise<BlockResult> {
  const p = ctx.params;
  const tf = await loadTransforms(p.transforms);
  const src = await source(p.source);
  const [bw, bh] = boxShape(ctx.box);
  const [ox, oy, oz] = src.offset;
  const out = Volume.zeros(src.dtype, ctx.box, { voxelSize: src.voxelSize });
  const range = RANGES[src.dtype];
  const labels = p.sampling === 'nearest' || src.dtype === 'uint64';
  for (let z = ctx.box.min[2]; z < ctx.box.max[2]; z++) {
    const i = z - oz;
    const plan = fillPlan(tf, i, p.fill, labels);
    const base = (z - ctx.box.min[2]) * bw * bh;
    const acc = new Float64Array(bw * bh);
    const wsum = new Float64Array(bw * bh);
    for (const [k, wgt] of plan) {
      const r = await renderRect(src, tf.sections[k], oz + k, ctx.box.min[0] - ox, ctx.box.min[1] - oy, bw, bh, p.sampling);
      if (r.ids) {
        const dst = out.data as BigUint64Array;
        for (let j = 0; j < bw * bh; j++) if (r.inside[j]) dst[base + j] = r.ids[j];
        continue;
      }
      for (let j = 0; j < bw * bh; j++) {
        if (!r.inside[j]) continue;
        acc[j] += wgt * r.values![j];
        wsum[j] += wgt;
      }
    }
    if (src.dtype === 'uint64') continue;
    const dst = out.data as unknown as { [k: number]: number };
    for (let j = 0; j < bw * bh; j++) {
      if (!(wsum[j] > 0)) continue;
      let v = acc[j] / wsum[j];
      if (range) v = Math.min(range[1], Math.max(range[0], Math.round(v)));
      dst[base + j] = v;
    }
  }
  return { volumes: { out } };
}

/** The render task for an output layer of the same geometry as the source. */
/** The render task's default block: about 256x256 voxels in x and y, one chunk in z. */
export function renderBlock(chunk: Vec3): Vec3 {
  return [chunk[0] * Math.max(1, Math.floor(256 / chunk[0])), chunk[1] * Math.max(1, Math.floor(256 / chunk[1])), chunk[2]];
}

/** A block for a sharded output: about 512x512 voxels in x and y and 8 sections (a shard of up to 512 chunks of 64x64x1 fits it). */
export function shardedRenderBlock(chunk: Vec3): Vec3 {
  return [chunk[0] * Math.max(1, Math.floor(512 / chunk[0])), chunk[1] * Math.max(1, Math.floor(512 / chunk[1])), chunk[2] * Math.max(1, Math.floor(8 / chunk[2]))];
}

export async function renderTask(o: { source: string; transforms: string; out: string; sampling: Sampling; fill: Fill; chunk: Vec3; bounds?: Box; blockShape?: Vec3 }): Promise<BlockTask<RenderParams>> {
  const src = await source(o.source);
  const tf = await loadTransforms(o.transforms);
  checkTransformsFit(tf, src.shape, src.offset, o.transforms, o.source);
  if (src.dtype === 'uint64' && o.sampling !== 'nearest') throw new UsageError(`${o.source} holds uint64 labels: use nearest sampling`);
  if (src.channels !== 1) throw new UsageError(`${o.source} has ${src.channels} channels; align one channel at a time (spec?channel=N)`);
  const blockShape: Vec3 = o.blockShape ?? renderBlock(o.chunk);
  const bytes = blockShape[0] * blockShape[1] * blockShape[2] * 8;
  return {
    name: 'align:render',
    module: import.meta.url,
    fn: 'alignRenderBlock',
    params: { source: o.source, transforms: o.transforms, sampling: o.sampling, fill: o.fill },
    outputs: { out: { layer: o.out } },
    bounds: o.bounds ?? boxFromShape(src.shape, src.offset),
    blockShape,
    // per section: the output block, the float accumulators and the raw rectangle it pulls from (about the block grown by the shifts)
    memoryPerBlock: bytes * 4,
  };
}
