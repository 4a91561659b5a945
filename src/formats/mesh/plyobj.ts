import { FormatError } from '../../core/errors.js';

/** A triangle mesh: vertex positions [x,y,z] flattened (nm), triangles as vertex index triples. */
export interface TriMesh {
  vertices: Float32Array;
  indices: Uint32Array;
}

/** Binary little-endian PLY (float x,y,z; uchar-count int indices), readable by MeshLab/trimesh. */
export function encodePly(mesh: TriMesh, comment?: string): Uint8Array {
  const nv = mesh.vertices.length / 3;
  const nf = mesh.indices.length / 3;
  const header =
    'ply\nformat binary_little_endian 1.0\n' +
    (comment ? `comment ${comment.replace(/\n/g, ' ')}\n` : '') +
    `element vertex ${nv}\nproperty float x\nproperty float y\nproperty float z\n` +
    `element face ${nf}\nproperty list uchar int vertex_indices\nend_header\n`;
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(h.length + nv * 12 + nf * 13);
  out.set(h);
  const dv = new DataView(out.buffer);
  let o = h.length;
  for (let i = 0; i < nv * 3; i++, o += 4) dv.setFloat32(o, mesh.vertices[i], true);
  for (let f = 0; f < nf; f++) {
    out[o++] = 3;
    for (let k = 0; k < 3; k++, o += 4) dv.setInt32(o, mesh.indices[3 * f + k], true);
  }
  return out;
}

/**
 * Read a PLY mesh: binary little-endian or ASCII; vertex x,y,z (float/double/int types) plus any
 * other vertex properties (skipped); faces as lists (triangles; polygons are fanned).
 */
export function decodePly(bytes: Uint8Array, where = 'PLY'): TriMesh {
  const headEnd = findHeaderEnd(bytes);
  if (headEnd < 0) throw new FormatError('no "end_header" line: not a PLY file', where);
  const header = new TextDecoder().decode(bytes.subarray(0, headEnd)).split(/\r?\n/);
  if (header[0].trim() !== 'ply') throw new FormatError('expected "ply" on the first line', where);
  let format = '';
  interface Prop { name: string; type: string; list?: { count: string; item: string } }
  const elements: Array<{ name: string; count: number; props: Prop[] }> = [];
  for (const line of header.slice(1)) {
    const w = line.trim().split(/\s+/);
    if (w[0] === 'format') format = w[1];
    else if (w[0] === 'element') elements.push({ name: w[1], count: Number(w[2]), props: [] });
    else if (w[0] === 'property') {
      const el = elements[elements.length - 1];
      if (!el) throw new FormatError(`property before any element: "${line}"`, where);
      if (w[1] === 'list') el.props.push({ name: w[4], type: 'list', list: { count: w[2], item: w[3] } });
      else el.props.push({ name: w[2], type: w[1] });
    }
  }
  if (format !== 'binary_little_endian' && format !== 'ascii') {
    throw new FormatError(`format ${JSON.stringify(format)} is not supported (expected binary_little_endian or ascii)`, where);
  }
  const vEl = elements.find((e) => e.name === 'vertex');
  const fEl = elements.find((e) => e.name === 'face');
  if (!vEl) throw new FormatError('no "element vertex"', where);
  const xi = ['x', 'y', 'z'].map((n) => vEl.props.findIndex((p) => p.name === n));
  if (xi.some((i) => i < 0)) throw new FormatError('vertex element lacks x, y or z', where);
  const vertices = new Float32Array(vEl.count * 3);
  const tris: number[] = [];
  const sizes: Record<string, number> = { char: 1, uchar: 1, int8: 1, uint8: 1, short: 2, ushort: 2, int16: 2, uint16: 2, int: 4, uint: 4, int32: 4, uint32: 4, float: 4, float32: 4, double: 8, float64: 8 };
  if (format === 'ascii') {
    const text = new TextDecoder().decode(bytes.subarray(headEnd)).split(/\r?\n/).filter((l) => l.trim() !== '');
    let line = 1; // first line after end_header is the rest of that line (empty)
    line = 0;
    for (const el of elements) {
      for (let i = 0; i < el.count; i++, line++) {
        const vals = (text[line] ?? '').trim().split(/\s+/).map(Number);
        if (el === vEl) for (let k = 0; k < 3; k++) vertices[3 * i + k] = vals[xi[k]];
        else if (el === fEl) fan(vals.slice(1, 1 + vals[0]), tris);
      }
    }
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let o = headEnd;
    const read = (t: string): number => {
      let v: number;
      switch (t) {
        case 'char': case 'int8': v = dv.getInt8(o); break;
        case 'uchar': case 'uint8': v = dv.getUint8(o); break;
        case 'short': case 'int16': v = dv.getInt16(o, true); break;
        case 'ushort': case 'uint16': v = dv.getUint16(o, true); break;
        case 'int': case 'int32': v = dv.getInt32(o, true); break;
        case 'uint': case 'uint32': v = dv.getUint32(o, true); break;
        case 'float': case 'float32': v = dv.getFloat32(o, true); break;
        case 'double': case 'float64': v = dv.getFloat64(o, true); break;
        default: throw new FormatError(`unknown property type ${t}`, where);
      }
      o += sizes[t];
      return v;
    };
    try {
      for (const el of elements) {
        for (let i = 0; i < el.count; i++) {
          const poly: number[] = [];
          for (let p = 0; p < el.props.length; p++) {
            const pr = el.props[p];
            if (pr.list) {
              const n = read(pr.list.count);
              for (let k = 0; k < n; k++) {
                const v = read(pr.list.item);
                if (el === fEl && pr.name.startsWith('vertex_ind')) poly.push(v);
              }
            } else {
              const v = read(pr.type);
              if (el === vEl) {
                const k = xi.indexOf(p);
                if (k >= 0) vertices[3 * i + k] = v;
              }
            }
          }
          if (el === fEl) fan(poly, tris);
        }
      }
    } catch (err) {
      if (err instanceof RangeError) throw new FormatError('file ends before all elements were read', where);
      throw err;
    }
  }
  const nv = vEl.count;
  for (const t of tris) if (!(t >= 0 && t < nv)) throw new FormatError(`face refers to vertex ${t}, only ${nv} vertices`, where);
  return { vertices, indices: Uint32Array.from(tris) };
}

function fan(poly: number[], out: number[]): void {
  for (let k = 1; k + 1 < poly.length; k++) out.push(poly[0], poly[k], poly[k + 1]);
}

function findHeaderEnd(bytes: Uint8Array): number {
  const needle = new TextEncoder().encode('end_header');
  const lim = Math.min(bytes.length, 1 << 16);
  outer: for (let i = 0; i + needle.length <= lim; i++) {
    for (let k = 0; k < needle.length; k++) if (bytes[i + k] !== needle[k]) continue outer;
    let j = i + needle.length;
    if (bytes[j] === 13) j++;
    if (bytes[j] === 10) return j + 1;
  }
  return -1;
}

/** Wavefront OBJ text (v / f lines, 1-based indices). */
export function encodeObj(mesh: TriMesh, comment?: string): string {
  const parts: string[] = [];
  if (comment) parts.push(`# ${comment.replace(/\n/g, ' ')}`);
  const v = mesh.vertices;
  for (let i = 0; i < v.length; i += 3) parts.push(`v ${v[i]} ${v[i + 1]} ${v[i + 2]}`);
  const f = mesh.indices;
  for (let i = 0; i < f.length; i += 3) parts.push(`f ${f[i] + 1} ${f[i + 1] + 1} ${f[i + 2] + 1}`);
  return parts.join('\n') + '\n';
}

/** Read an OBJ mesh (v and f lines; f entries may be v/vt/vn; negative indices are relative). */
export function decodeObj(text: string, where = 'OBJ'): TriMesh {
  const verts: number[] = [];
  const tris: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const w = lines[ln].trim().split(/\s+/);
    if (w[0] === 'v') {
      const xyz = w.slice(1, 4).map(Number);
      if (xyz.length < 3 || xyz.some((n) => !Number.isFinite(n))) throw new FormatError(`line ${ln + 1}: expected "v x y z"`, where);
      verts.push(...xyz);
    } else if (w[0] === 'f') {
      const nv = verts.length / 3;
      const poly = w.slice(1).map((s) => {
        const i = parseInt(s.split('/')[0], 10);
        const idx = i < 0 ? nv + i : i - 1;
        if (!Number.isInteger(idx) || idx < 0 || idx >= nv) throw new FormatError(`line ${ln + 1}: face index ${s} out of range`, where);
        return idx;
      });
      fan(poly, tris);
    }
  }
  return { vertices: Float32Array.from(verts), indices: Uint32Array.from(tris) };
}
