import { createRequire } from 'node:module';
import { FormatError, WiringError } from '../../core/errors.js';

/* Minimal typings for the parts of draco3d's Emscripten API we use. */
interface DracoObj { ptr?: number }
interface EncoderModule {
  Encoder: new () => DracoObj & {
    SetSpeedOptions(e: number, d: number): void;
    SetEncodingMethod(m: number): void;
    EncodeMeshToDracoBuffer(mesh: DracoObj, out: DracoObj): number;
  };
  MeshBuilder: new () => DracoObj & {
    AddFacesToMesh(mesh: DracoObj, n: number, faces: Uint32Array): boolean;
    AddInt32AttributeToMesh(mesh: DracoObj, type: number, n: number, comps: number, data: Int32Array): number;
  };
  Mesh: new () => DracoObj;
  DracoInt8Array: new () => DracoObj & { GetValue(i: number): number; size(): number };
  POSITION: number;
  /** the module's heap views (replaced when the memory grows: read them after each call) */
  HEAPU8?: Uint8Array;
  HEAPU32?: Uint32Array;
  MESH_EDGEBREAKER_ENCODING: number;
  MESH_SEQUENTIAL_ENCODING: number;
  destroy(o: DracoObj): void;
}
interface DecoderModule {
  Decoder: new () => DracoObj & {
    DecodeArrayToMesh(data: Int8Array, len: number, mesh: DracoObj): DracoObj & { ok(): boolean; error_msg(): string };
    GetAttributeId(mesh: DracoObj, type: number): number;
    GetAttribute(mesh: DracoObj, id: number): DracoObj & { size(): number };
    GetAttributeDataArrayForAllPoints(mesh: DracoObj, attr: DracoObj, dt: number, bytes: number, ptr: number): boolean;
    GetTrianglesUInt32Array(mesh: DracoObj, bytes: number, ptr: number): boolean;
  };
  Mesh: new () => DracoObj & { num_points(): number; num_faces(): number };
  POSITION: number;
  DT_INT32: number;
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  destroy(o: DracoObj): void;
}

const require = createRequire(import.meta.url);
let encoderP: Promise<EncoderModule> | undefined;
let decoderP: Promise<DecoderModule> | undefined;

function draco(): { createEncoderModule(o: object): Promise<EncoderModule>; createDecoderModule(o: object): Promise<DecoderModule> } {
  return require('draco3d') as never;
}

export function dracoEncoder(): Promise<EncoderModule> {
  encoderP ??= draco().createEncoderModule({});
  return encoderP;
}

export function dracoDecoder(): Promise<DecoderModule> {
  decoderP ??= draco().createDecoderModule({});
  return decoderP;
}

/**
 * Draco-encode a triangle mesh whose positions are integers (Neuroglancer's multi-resolution
 * fragments: quantized positions, no Draco quantization). Edgebreaker, best compression.
 */
export async function encodeDracoIntMesh(positions: Int32Array, indices: Uint32Array): Promise<Uint8Array> {
  if (indices.length === 0) return new Uint8Array(0);
  const m = await dracoEncoder();
  // One encoder per module, options set once: a fresh Encoder costs ~0.25 ms per call, most of a
  // small fragment's encoding (the bytes are the same; the call below is synchronous, so no two
  // encodings share it at once).
  if (!sharedEncoder || sharedEncoder.module !== m) {
    const e = new m.Encoder();
    e.SetSpeedOptions(5, 5);
    e.SetEncodingMethod(m.MESH_EDGEBREAKER_ENCODING);
    sharedEncoder = { module: m, encoder: e };
  }
  const encoder = sharedEncoder.encoder;
  const builder = new m.MeshBuilder();
  const mesh = new m.Mesh();
  const out = new m.DracoInt8Array();
  try {
    builder.AddFacesToMesh(mesh, indices.length / 3, indices);
    builder.AddInt32AttributeToMesh(mesh, m.POSITION, positions.length / 3, 3, positions);
    const n = encoder.EncodeMeshToDracoBuffer(mesh, out);
    if (n <= 0) throw new WiringError('Draco encoding failed');
    return encodedBytes(m, out, n);
  } finally {
    m.destroy(out);
    m.destroy(mesh);
    m.destroy(builder);
  }
}

let sharedEncoder: { module: EncoderModule; encoder: InstanceType<EncoderModule['Encoder']> } | undefined;

/** Whether a DracoInt8Array's bytes can be sliced from the module's heap (checked once per module against GetValue). */
const heapSlice = new WeakMap<EncoderModule, boolean>();

/**
 * The `n` encoded bytes of `out`. DracoInt8Array wraps a std::vector<int8_t> (its first two words:
 * begin and end pointers into the WebAssembly heap), so the bytes are one slice of the heap instead
 * of a GetValue call per byte (~65 ns each: a tenth of the encoding of a 300-triangle fragment). The
 * layout is checked against GetValue on the module's first buffer, and the length on every one;
 * otherwise the bytes are read one by one as before.
 */
function encodedBytes(m: EncoderModule, out: InstanceType<EncoderModule['DracoInt8Array']>, n: number): Uint8Array {
  const ptr = out.ptr;
  let ok = heapSlice.get(m);
  if (ok !== false && m.HEAPU8 && m.HEAPU32 && ptr !== undefined) {
    const begin = m.HEAPU32[ptr >> 2];
    const end = m.HEAPU32[(ptr >> 2) + 1];
    if (end - begin === n) {
      const bytes = m.HEAPU8.slice(begin, end);
      if (ok === undefined) {
        ok = bytes.every((b, i) => b === (out.GetValue(i) & 0xff));
        heapSlice.set(m, ok);
      }
      if (ok) return bytes;
    }
  }
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = out.GetValue(i) & 0xff;
  return bytes;
}

/** Decode a Draco mesh with an integer position attribute (for tests and reading our output). */
export async function decodeDracoIntMesh(bytes: Uint8Array, where = 'Draco fragment'): Promise<{ positions: Int32Array; indices: Uint32Array; attributeSize: number }> {
  if (bytes.length === 0) return { positions: new Int32Array(0), indices: new Uint32Array(0), attributeSize: 0 };
  const m = await dracoDecoder();
  const decoder = new m.Decoder();
  const mesh = new m.Mesh();
  try {
    const status = decoder.DecodeArrayToMesh(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes.byteLength, mesh);
    if (!status.ok()) throw new FormatError(`not a Draco mesh: ${status.error_msg()}`, where);
    m.destroy(status);
    const np = mesh.num_points();
    const nf = mesh.num_faces();
    const attr = decoder.GetAttribute(mesh, decoder.GetAttributeId(mesh, m.POSITION));
    const pbytes = np * 3 * 4;
    const pp = m._malloc(pbytes);
    decoder.GetAttributeDataArrayForAllPoints(mesh, attr, m.DT_INT32, pbytes, pp);
    const positions = new Int32Array(m.HEAPU8.slice(pp, pp + pbytes).buffer);
    m._free(pp);
    const ibytes = nf * 3 * 4;
    const ip = m._malloc(ibytes);
    decoder.GetTrianglesUInt32Array(mesh, ibytes, ip);
    const indices = new Uint32Array(m.HEAPU8.slice(ip, ip + ibytes).buffer);
    m._free(ip);
    // Neuroglancer's decoder requires one position value per point (attributeSize === points)
    return { positions, indices, attributeSize: attr.size() };
  } finally {
    m.destroy(mesh);
    m.destroy(decoder);
  }
}
