/**
 * CNN inference with onnxruntime-node (CPU): any model taking one float32 input of shape
 * [1, N, Z, Y, X] (3-D) or [1, N, Y, X] (2-D, run per z section) and giving outputs [1, M, ...]
 * of the same spatial size, or smaller and centred ("valid" convolutions: the shrink is measured on a
 * probe tile and each tile's input reaches that many voxels beyond its output, mirrored at the
 * volume's borders, so every voxel is predicted).
 *
 * Tiling: the volume is covered by overlapping tiles (model input size; for dynamic dimensions
 * `tile` [x, y, z]); each tile's output is weighted by a smooth window (sin^2 ramps over the overlap,
 * flat inside; no ramp at the volume's own borders) after discarding `halo` voxels at tile edges that
 * are not volume borders (the receptive-field radius, where zero padding inside a tile would differ
 * from whole-volume inference), then weighted sums are normalised. With halo >= the receptive-field
 * radius, tiled and whole-volume inference agree up to float rounding.
 *
 * Input normalisation: input = raw * scale + offset per channel (defaults: uint8 1/255, uint16 1/65535,
 * otherwise 1; offset 0).
 */
import { promises as fs } from 'node:fs';
import { type Box, type Vec3, boxContains, boxShape, boxToString } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import type { OutputDtype } from './predict.js';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

let ortPromise: Promise<Ort> | undefined;
function ort(): Promise<Ort> {
  ortPromise ??= import('onnxruntime-node').catch((e: Error) => {
    throw new UsageError(`onnxruntime-node is not available (${e.message}); install it with ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`);
  });
  return ortPromise;
}

export interface OnnxOptions {
  /** Tile size [x, y, z] for dynamic model dimensions (z ignored for 2-D models). */
  tile?: Vec3;
  /** Voxels [x, y, z] dropped at inner tile edges (receptive-field radius). Default [0, 0, 0]. */
  halo?: Vec3;
  /** Overlap [x, y, z] between neighbouring tiles used for blending (>= 2 * halo; default halo * 2 + tile / 8). */
  overlap?: Vec3;
  /** Input normalisation: input = raw * scale + offset. */
  scale?: number;
  offset?: number;
  /** onnxruntime intra-op threads (default 1: the scheduler runs blocks in parallel). */
  threads?: number;
}

export interface OnnxModelInfo {
  dims: 2 | 3;
  inputName: string;
  outputName: string;
  inChannels: number | undefined;
  /** fixed spatial input size [x, y, z] where the model fixes it (undefined = dynamic). */
  fixedTile: Array<number | undefined>;
}

const sessions = new Map<string, Promise<{ session: Session; info: OnnxModelInfo }>>();

/** Open (and cache per thread) an ONNX model. */
export function openOnnx(file: string, threads = 1): Promise<{ session: Session; info: OnnxModelInfo }> {
  const key = `${file}#${threads}`;
  let p = sessions.get(key);
  if (!p) {
    p = (async () => {
      await fs.access(file).catch(() => {
        throw new UsageError('ONNX model file not found', file);
      });
      const o = await ort();
      let session: Session;
      try {
        session = await o.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'] });
      } catch (e) {
        throw new FormatError(`onnxruntime cannot load this model: ${(e as Error).message}`, file);
      }
      return { session, info: describeOnnx(session, file) };
    })();
    sessions.set(key, p);
    p.catch(() => sessions.delete(key));
  }
  return p;
}

function describeOnnx(session: Session, file: string): OnnxModelInfo {
  if (session.inputNames.length !== 1) throw new FormatError(`model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); expected one image input`, file);
  const meta = session.inputMetadata?.[0] as { isTensor?: boolean; shape?: ReadonlyArray<number | string> } | undefined;
  const shape = meta?.shape ?? [];
  if (shape.length !== 4 && shape.length !== 5) {
    throw new FormatError(`input "${session.inputNames[0]}" has rank ${shape.length} [${shape.join(',')}]; expected [1,C,Y,X] (2-D) or [1,C,Z,Y,X] (3-D)`, file);
  }
  const dims = shape.length === 5 ? 3 : 2;
  const num = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);
  // shape is [N, C, (Z), Y, X] -> fixedTile [x, y, z]
  const fixedTile = dims === 3 ? [num(shape[4]), num(shape[3]), num(shape[2])] : [num(shape[3]), num(shape[2]), 1];
  return { dims, inputName: session.inputNames[0], outputName: session.outputNames[0], inChannels: num(shape[1]), fixedTile };
}

function defaultScale(dtype: string): number {
  return dtype === 'uint8' ? 1 / 255 : dtype === 'uint16' ? 1 / 65535 : 1;
}

/** Tile starts along one axis: tiles of `t` covering [0, n) with step t - overlap; last tile flush with the end. */
export function tileStarts(n: number, t: number, overlap: number): number[] {
  if (t >= n) return [0];
  const step = Math.max(1, t - overlap);
  const starts: number[] = [];
  for (let s = 0; s + t < n; s += step) starts.push(s);
  starts.push(n - t);
  return starts;
}

/** Blending weight along one axis for position i in a tile of length t at start s in a volume of length n. */
function axisWeights(t: number, s: number, n: number, halo: number, ramp: number): Float32Array {
  const w = new Float32Array(t);
  const atLo = s === 0;
  const atHi = s + t >= n;
  for (let i = 0; i < t; i++) {
    let v = 1;
    if (!atLo) {
      const d = i - halo; // distance into the valid part from the low edge
      if (d < 0) v = 0;
      else if (d < ramp) v = Math.min(v, Math.sin((Math.PI / 2) * ((d + 0.5) / ramp)) ** 2);
    }
    if (!atHi) {
      const d = t - 1 - i - halo;
      if (d < 0) v = 0;
      else if (d < ramp) v = Math.min(v, Math.sin((Math.PI / 2) * ((d + 0.5) / ramp)) ** 2);
    }
    w[i] = v;
  }
  return w;
}

/**
 * Run an ONNX model over `raw` (channels = model input channels), returning M-channel float32
 * (or uint8) predictions over `box` (default raw.box).
 */
export async function onnxPredictVolume(
  file: string,
  raw: Volume,
  opts: OnnxOptions & { box?: Box; dtype?: OutputDtype } = {},
): Promise<Volume> {
  const target = opts.box ?? raw.box;
  if (!boxContains(raw.box, target)) throw new UsageError(`prediction box (${boxToString(target)}) is outside the raw block (${boxToString(raw.box)})`);
  const { session, info } = await openOnnx(file, opts.threads ?? 1);
  const o = await ort();
  const C = raw.channels;
  if (info.inChannels !== undefined && info.inChannels !== C) {
    throw new UsageError(`the model expects ${info.inChannels} input channel(s) but the raw volume has ${C}`, file);
  }
  if (raw.dtype === 'uint64') throw new UsageError('raw is uint64; expected an image');
  const [sx, sy, sz] = raw.shape;
  const dims = info.dims;
  const want = opts.tile ?? (dims === 3 ? [96, 96, 32] : [256, 256, 1]);
  const tile: Vec3 = [
    info.fixedTile[0] ?? Math.min(want[0], sx),
    info.fixedTile[1] ?? Math.min(want[1], sy),
    dims === 2 ? 1 : (info.fixedTile[2] ?? Math.min(want[2], sz)),
  ];
  const haloIn: Vec3 = opts.halo ?? [0, 0, 0];
  if (dims === 2 && haloIn[2] !== 0) throw new UsageError('halo along z must be 0 for a 2-D model');
  const dimsArr = dims === 3 ? [1, C, tile[2], tile[1], tile[0]] : [1, C, tile[1], tile[0]];
  const tv = tile[0] * tile[1] * tile[2];
  const input = new Float32Array(C * tv);
  const runTile = async (): Promise<{ data: Float32Array; m: number; osz: Vec3 }> => {
    let result;
    try {
      result = await session.run({ [info.inputName]: new o.Tensor('float32', input, dimsArr) });
    } catch (e) {
      throw new FormatError(`onnxruntime failed on a tile of [${tile}] x ${C} channel(s): ${(e as Error).message}`, file);
    }
    const out = result[info.outputName] as unknown as { data: Float32Array; dims: readonly number[]; type: string };
    if (out.type !== 'float32') throw new FormatError(`output "${info.outputName}" is ${out.type}; expected float32`, file);
    const od = out.dims;
    if (od.length !== dimsArr.length || od[0] !== 1) throw new FormatError(`output "${info.outputName}" has shape [${od.join(',')}]; expected [1, M, ...] like the input`, file);
    const osz: Vec3 = dims === 3 ? [od[4], od[3], od[2]] : [od[3], od[2], 1];
    return { data: out.data, m: od[1], osz };
  };
  // "valid" models give a smaller, centred output: find the shrink `off` per side with one probe tile,
  // then tile the volume with output tiles of tile - 2 off whose inputs reach off voxels beyond them
  // (mirrored at the volume's borders), so every voxel gets a prediction.
  const probe = await runTile();
  const off: Vec3 = [(tile[0] - probe.osz[0]) / 2, (tile[1] - probe.osz[1]) / 2, (tile[2] - probe.osz[2]) / 2];
  if (off.some((v) => v < 0 || !Number.isInteger(v))) {
    throw new FormatError(`output spatial size [${probe.osz}] does not fit centred in the input tile [${tile}] (a valid-convolution model must shrink each axis by the same amount on both sides)`, file);
  }
  const ot: Vec3 = probe.osz;
  // an output voxel already sees `off` voxels of real context beyond its tile's output: only the
  // rest of the receptive-field radius needs dropping at inner tile edges
  const halo: Vec3 = [0, 1, 2].map((a) => Math.max(0, haloIn[a] - off[a])) as unknown as Vec3;
  const overlap: Vec3 = opts.overlap ?? [
    Math.min(ot[0] - 1, 2 * halo[0] + Math.floor(ot[0] / 8)),
    Math.min(ot[1] - 1, 2 * halo[1] + Math.floor(ot[1] / 8)),
    dims === 2 ? 0 : Math.min(ot[2] - 1, 2 * halo[2] + Math.floor(ot[2] / 8)),
  ];
  for (let a = 0; a < 3; a++) {
    if (ot[a] <= 2 * halo[a] && ot[a] < raw.shape[a]) {
      throw new UsageError(`tile ${tile[a]} along ${'xyz'[a]}${off[a] ? ` (output ${ot[a]}: the model drops ${off[a]} voxels per side)` : ''} leaves nothing inside the halo ${halo[a]}`);
    }
    if (overlap[a] < 2 * halo[a] && ot[a] < raw.shape[a]) {
      throw new UsageError(`tile overlap ${overlap[a]} along ${'xyz'[a]} must be at least twice the halo (${halo[a]})`);
    }
  }
  const scale = opts.scale ?? defaultScale(raw.dtype);
  const offset = opts.offset ?? 0;
  const src = raw.data as ArrayLike<number>;
  const n = sx * sy * sz;
  for (let i = 0; i < raw.data.length; i++) {
    if (!Number.isFinite(src[i])) throw new UsageError(`raw voxel ${i % n} (channel ${Math.floor(i / n)}) is ${src[i]}; inference needs finite values`);
  }
  // pad to at least one output tile where the model's size is fixed (zeros), tracked by pshape
  const pshape: Vec3 = [Math.max(sx, ot[0]), Math.max(sy, ot[1]), Math.max(sz, ot[2])];
  const starts = [tileStarts(pshape[0], ot[0], overlap[0]), tileStarts(pshape[1], ot[1], overlap[1]), tileStarts(pshape[2], ot[2], overlap[2])];
  const ramp: Vec3 = [
    Math.max(1, overlap[0] - 2 * halo[0]), Math.max(1, overlap[1] - 2 * halo[1]), Math.max(1, overlap[2] - 2 * halo[2]),
  ];
  // input coordinate -> volume coordinate: mirrored within off of a border, -1 (zero) beyond the volume
  const mirror = (i: number, len: number, o: number): number => {
    if (i >= 0 && i < len) return i;
    if (i < 0 && i >= -o) return len === 1 ? 0 : Math.min(len - 1, -i);
    if (i >= len && i < len + o && len > 1) return Math.max(0, 2 * len - 2 - i);
    if (i >= len && i < len + o) return 0;
    return -1;
  };
  let M = 0;
  let acc: Float32Array | undefined;
  const wsum = new Float32Array(n);
  for (const z0 of starts[2]) {
    const wz = axisWeights(ot[2], z0, pshape[2], halo[2], ramp[2]);
    for (const y0 of starts[1]) {
      const wy = axisWeights(ot[1], y0, pshape[1], halo[1], ramp[1]);
      for (const x0 of starts[0]) {
        const wx = axisWeights(ot[0], x0, pshape[0], halo[0], ramp[0]);
        // gather the tile: output voxel x0 + i needs input x0 - off + (0..tile)
        input.fill(0);
        for (let c = 0; c < C; c++) {
          for (let z = 0; z < tile[2]; z++) {
            const vz = mirror(z0 - off[2] + z, sz, off[2]);
            if (vz < 0) continue;
            for (let y = 0; y < tile[1]; y++) {
              const vy = mirror(y0 - off[1] + y, sy, off[1]);
              if (vy < 0) continue;
              const so = c * n + sx * (vy + sy * vz);
              const d = c * tv + tile[0] * (y + tile[1] * z);
              for (let x = 0; x < tile[0]; x++) {
                const vx = mirror(x0 - off[0] + x, sx, off[0]);
                if (vx >= 0) input[d + x] = src[so + vx] * scale + offset;
              }
            }
          }
        }
        const out = await runTile();
        const m = out.m;
        const osz = out.osz;
        if (osz.some((v, a) => v !== ot[a])) throw new FormatError(`output spatial size changed from [${ot}] to [${osz}] between tiles`, file);
        if (!acc) {
          M = m;
          acc = new Float32Array(M * n);
        } else if (m !== M) throw new FormatError(`output channel count changed from ${M} to ${m}`, file);
        const ov = osz[0] * osz[1] * osz[2];
        for (let z = 0; z < osz[2]; z++) {
          const gz = z0 + z;
          if (gz >= sz) break;
          for (let y = 0; y < osz[1]; y++) {
            const gy = y0 + y;
            if (gy >= sy) break;
            const wyz = wz[z] * wy[y];
            if (wyz === 0) continue;
            for (let x = 0; x < osz[0]; x++) {
              const gx = x0 + x;
              if (gx >= sx) break;
              const w = wyz * wx[x];
              if (w === 0) continue;
              const gi = gx + sx * (gy + sy * gz);
              wsum[gi] += w;
              const oi = x + osz[0] * (y + osz[1] * z);
              for (let c = 0; c < M; c++) acc[c * n + gi] += w * out.data[c * ov + oi];
            }
          }
        }
      }
    }
  }
  if (!acc) throw new FormatError('model produced no output', file);
  // normalise and crop to the target box
  const ts = boxShape(target);
  const dtype = opts.dtype ?? 'float32';
  const res = Volume.zeros(dtype, target, { channels: M, voxelSize: raw.voxelSize });
  const rd = res.data as Float32Array | Uint8Array;
  const ox = target.min[0] - raw.box.min[0], oy = target.min[1] - raw.box.min[1], oz = target.min[2] - raw.box.min[2];
  const tn = ts[0] * ts[1] * ts[2];
  for (let c = 0; c < M; c++) {
    for (let z = 0; z < ts[2]; z++) {
      for (let y = 0; y < ts[1]; y++) {
        for (let x = 0; x < ts[0]; x++) {
          const gi = ox + x + sx * (oy + y + sy * (oz + z));
          const w = wsum[gi];
          if (!(w > 0)) throw new UsageError(`voxel (${ox + x},${oy + y},${oz + z}) of the block got no tile weight; increase the tile overlap`);
          const v = acc[c * n + gi] / w;
          const di = c * tn + x + ts[0] * (y + ts[1] * z);
          if (dtype === 'float32') rd[di] = v;
          else rd[di] = Math.round(Math.min(1, Math.max(0, v)) * 255);
        }
      }
    }
  }
  return res;
}

export interface OnnxParams extends OnnxOptions {
  onnx: string;
  dtype: OutputDtype;
}

/** Block function: inputs.raw covers ctx.readBox (box + halo); writes outputs.out over ctx.box. */
export async function onnxPredictBlock(ctx: BlockContext<OnnxParams>): Promise<BlockResult> {
  const raw = ctx.inputs.raw;
  if (!raw) throw new UsageError('onnx predict block: missing input "raw"');
  const { onnx, dtype, ...opts } = ctx.params;
  return { volumes: { out: await onnxPredictVolume(onnx, raw, { ...opts, box: ctx.box, dtype }) } };
}

/** The scheduler task for blockwise ONNX inference; the block margin is the halo. */
export function onnxPredictTask(o: {
  onnx: string;
  raw: string;
  out: string;
  bounds: Box;
  blockShape: Vec3;
  dtype: OutputDtype;
  options: OnnxOptions;
  outChannels: number;
  inChannels: number;
  name?: string;
}): BlockTask<OnnxParams> {
  const halo = o.options.halo ?? [0, 0, 0];
  const readVoxels = (o.blockShape[0] + 2 * halo[0]) * (o.blockShape[1] + 2 * halo[1]) * (o.blockShape[2] + 2 * halo[2]);
  return {
    name: o.name ?? 'predict-onnx',
    module: import.meta.url,
    fn: 'onnxPredictBlock',
    params: { ...o.options, onnx: o.onnx, dtype: o.dtype },
    inputs: { raw: o.raw },
    outputs: { out: { layer: o.out } },
    bounds: o.bounds,
    blockShape: o.blockShape,
    margin: halo,
    memoryPerBlock: readVoxels * 4 * (o.inChannels + 2 * o.outChannels + 1),
  };
}
