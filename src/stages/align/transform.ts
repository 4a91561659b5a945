/**
 * The transforms file (`transforms.json` beside an aligned layer; format in README.md): one
 * transform per section mapping output pixels to the raw section's pixels (the pull-back used
 * for rendering), p -> A (p + u(p)), with A an affine and u a spring-mesh displacement field
 * sampled bilinearly. Pixel coordinates are relative to the layer's voxel_offset, pixel centres
 * at integers. Parsing checks every field and names the file and field on error.
 */
import { type Vec3 } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { type Affine, apply, compose, invert } from './affine.js';
import { type MeshGrid, sampleField } from './mesh.js';

export const TRANSFORMS_FORMAT = 'wiring-align-transforms';

export type SectionStatus = 'reference' | 'ok' | 'missing' | 'damaged';

export interface SectionMesh extends MeshGrid {
  u: number[];
  v: number[];
}

export interface SectionTransform {
  /** Global z of the section. */
  z: number;
  status: SectionStatus;
  affine: Affine;
  mesh?: SectionMesh;
}

export interface TransformsFile {
  format: typeof TRANSFORMS_FORMAT;
  version: 1;
  /** The stack the transforms were computed on. */
  source: { url: string; size: Vec3; voxel_offset: Vec3; voxel_size: Vec3 };
  params: Record<string, unknown>;
  sections: SectionTransform[];
}

/** Where output pixel (x, y) of section t comes from in the raw section. */
export function pullback(t: SectionTransform, x: number, y: number): [number, number] {
  if (t.mesh) {
    const m = t.mesh;
    return apply(t.affine, x + sampleField(m, m.u, x, y), y + sampleField(m, m.v, x, y));
  }
  return apply(t.affine, x, y);
}

/**
 * pullback for a whole row: output pixels (x0 + i, y), i < w, into sx, sy. The mesh field is
 * bilinear, hence separable: it is interpolated in y once per node column, then per pixel between
 * two columns (the values of sampleField, without its per-pixel clamping and lookups; 2-3x faster).
 */
export function pullbackRow(t: SectionTransform, x0: number, y: number, w: number, sx: Float64Array, sy: Float64Array, cols?: { u: Float64Array; v: Float64Array }): void {
  const [a, b, c, d, e, f] = t.affine;
  const m = t.mesh;
  if (!m) {
    for (let i = 0; i < w; i++) {
      const x = x0 + i;
      sx[i] = a * x + b * y + c;
      sy[i] = d * x + e * y + f;
    }
    return;
  }
  const colU = cols?.u ?? new Float64Array(m.nx);
  const colV = cols?.v ?? new Float64Array(m.nx);
  const fy = Math.min(Math.max((y - m.oy) / m.stride, 0), m.ny - 1);
  const j0 = Math.min(Math.floor(fy), Math.max(0, m.ny - 2));
  const j1 = Math.min(j0 + 1, m.ny - 1);
  const ty = fy - j0;
  for (let k = 0; k < m.nx; k++) {
    const u0 = m.u[k + m.nx * j0];
    const v0 = m.v[k + m.nx * j0];
    colU[k] = u0 + ty * (m.u[k + m.nx * j1] - u0);
    colV[k] = v0 + ty * (m.v[k + m.nx * j1] - v0);
  }
  for (let i = 0; i < w; i++) {
    const x = x0 + i;
    const fx = Math.min(Math.max((x - m.ox) / m.stride, 0), m.nx - 1);
    const k0 = Math.min(Math.floor(fx), Math.max(0, m.nx - 2));
    const k1 = Math.min(k0 + 1, m.nx - 1);
    const tx = fx - k0;
    const qx = x + colU[k0] + tx * (colU[k1] - colU[k0]);
    const qy = y + colV[k0] + tx * (colV[k1] - colV[k0]);
    sx[i] = a * qx + b * qy + c;
    sy[i] = d * qx + e * qy + f;
  }
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function vec3(v: unknown, where: string, file: string): Vec3 {
  if (!Array.isArray(v) || v.length !== 3 || !v.every(isNum)) throw new FormatError(`${where}: expected [x, y, z] numbers, got ${JSON.stringify(v)}`, file);
  return v as unknown as Vec3;
}

/** Validate a parsed transforms document (file names the source in errors). */
export function parseTransforms(doc: unknown, file: string): TransformsFile {
  const d = doc as Partial<TransformsFile> | null;
  if (!d || typeof d !== 'object') throw new FormatError('expected a JSON object', file);
  if (d.format !== TRANSFORMS_FORMAT) throw new FormatError(`format: expected "${TRANSFORMS_FORMAT}", got ${JSON.stringify(d.format)}`, file);
  if (d.version !== 1) throw new FormatError(`version: expected 1, got ${JSON.stringify(d.version)}`, file);
  const s = d.source;
  if (!s || typeof s !== 'object') throw new FormatError('source: missing', file);
  const size = vec3(s.size, 'source.size', file);
  vec3(s.voxel_offset, 'source.voxel_offset', file);
  vec3(s.voxel_size, 'source.voxel_size', file);
  if (!Array.isArray(d.sections)) throw new FormatError('sections: expected an array', file);
  if (d.sections.length !== size[2]) throw new FormatError(`sections: ${d.sections.length} entries, expected one per section (source.size z = ${size[2]})`, file);
  d.sections.forEach((t, i) => {
    const w = `sections[${i}]`;
    if (!t || typeof t !== 'object') throw new FormatError(`${w}: expected an object`, file);
    if (t.z !== s.voxel_offset![2] + i) throw new FormatError(`${w}.z: expected ${s.voxel_offset![2] + i}, got ${JSON.stringify(t.z)}`, file);
    if (!['reference', 'ok', 'missing', 'damaged'].includes(t.status)) throw new FormatError(`${w}.status: unknown ${JSON.stringify(t.status)}`, file);
    if (!Array.isArray(t.affine) || t.affine.length !== 6 || !t.affine.every(isNum)) throw new FormatError(`${w}.affine: expected 6 numbers [a, b, c, d, e, f]`, file);
    if (t.mesh !== undefined && t.mesh !== null) {
      const m = t.mesh;
      for (const k of ['ox', 'oy', 'stride', 'nx', 'ny'] as const) if (!isNum(m[k])) throw new FormatError(`${w}.mesh.${k}: expected a number`, file);
      if (!(m.stride > 0) || !(m.nx >= 1) || !(m.ny >= 1)) throw new FormatError(`${w}.mesh: stride, nx, ny must be positive`, file);
      for (const k of ['u', 'v'] as const) {
        if (!Array.isArray(m[k]) || m[k].length !== m.nx * m.ny || !m[k].every(isNum)) throw new FormatError(`${w}.mesh.${k}: expected nx*ny = ${m.nx * m.ny} numbers`, file);
      }
    } else delete t.mesh;
  });
  return d as TransformsFile;
}

/** Check that a transforms file fits a stack of this size/offset (the --apply target). */
export function checkTransformsFit(t: TransformsFile, size: Vec3, offset: Vec3, file: string, layer: string): void {
  const s = t.source;
  const same = (a: Vec3, b: Vec3) => a.every((v, i) => v === b[i]);
  if (!same(s.size, size) || !same(s.voxel_offset, offset)) {
    throw new FormatError(
      `the transforms were computed on a stack of size [${s.size}] at offset [${s.voxel_offset}], but ${layer} has size [${size}] at offset [${offset}]`,
      file,
    );
  }
}

/**
 * The same transform in the coordinates of a level with pixels s times larger (mean-halved
 * log2(s) times: full-resolution p = s q + (s - 1) / 2). Exact for the affine and the mesh.
 */
export function scaleTransform(t: SectionTransform, s: number): SectionTransform {
  if (s === 1) return t;
  const o = (s - 1) / 2;
  const S: Affine = [s, 0, o, 0, s, o];
  const out: SectionTransform = { ...t, affine: compose(invert(S), compose(t.affine, S)) };
  if (t.mesh) {
    const m = t.mesh;
    out.mesh = { ox: (m.ox - o) / s, oy: (m.oy - o) / s, stride: m.stride / s, nx: m.nx, ny: m.ny, u: m.u.map((x) => x / s), v: m.v.map((x) => x / s) };
  }
  return out;
}

/** The inverse of scaleTransform: a transform found at a level of scale s, in full-resolution pixels. */
export function unscaleTransform(t: SectionTransform, s: number): SectionTransform {
  return scaleTransform(t, 1 / s);
}
