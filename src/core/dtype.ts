import { FormatError } from './errors.js';

/** Element types of volumes; the names are Neuroglancer precomputed's `data_type` values. */
export type DataType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'uint64' | 'float32';

export const DATA_TYPES: readonly DataType[] = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'float32',
];

export type TypedArrayOf<T extends DataType> = T extends 'uint8'
  ? Uint8Array
  : T extends 'int8'
    ? Int8Array
    : T extends 'uint16'
      ? Uint16Array
      : T extends 'int16'
        ? Int16Array
        : T extends 'uint32'
          ? Uint32Array
          : T extends 'int32'
            ? Int32Array
            : T extends 'uint64'
              ? BigUint64Array
              : T extends 'float32'
                ? Float32Array
                : never;

export type AnyTypedArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigUint64Array | Float32Array;

const CTORS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  uint64: BigUint64Array,
  float32: Float32Array,
} as const;

export function bytesPerElement(dtype: DataType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

export function isDataType(s: unknown): s is DataType {
  return typeof s === 'string' && (DATA_TYPES as readonly string[]).includes(s);
}

export function parseDataType(s: unknown, where?: string): DataType {
  if (!isDataType(s)) {
    throw new FormatError(`unsupported data type ${JSON.stringify(s)}; expected one of ${DATA_TYPES.join(', ')}`, where);
  }
  return s;
}

/** A new zero-filled array of `length` elements; `shared` puts it in a SharedArrayBuffer for workers. */
export function allocate<T extends DataType>(dtype: T, length: number, shared = false): TypedArrayOf<T> {
  const C = CTORS[dtype];
  const buffer = shared
    ? new SharedArrayBuffer(length * C.BYTES_PER_ELEMENT)
    : new ArrayBuffer(length * C.BYTES_PER_ELEMENT);
  return new (C as unknown as new (b: ArrayBufferLike) => TypedArrayOf<T>)(buffer);
}

/** View little-endian bytes as a typed array of `dtype` (copies only when misaligned). */
export function viewBytes<T extends DataType>(dtype: T, bytes: Uint8Array, where?: string): TypedArrayOf<T> {
  const C = CTORS[dtype];
  if (bytes.byteLength % C.BYTES_PER_ELEMENT !== 0) {
    throw new FormatError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`, where);
  }
  const n = bytes.byteLength / C.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % C.BYTES_PER_ELEMENT === 0) {
    return new (C as unknown as new (b: ArrayBufferLike, o: number, n: number) => TypedArrayOf<T>)(bytes.buffer, bytes.byteOffset, n);
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new C(copy.buffer, 0, n) as TypedArrayOf<T>;
}

/** The raw little-endian bytes behind a typed array (no copy). */
export function asBytes(array: AnyTypedArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

export function dataTypeOf(array: AnyTypedArray): DataType {
  for (const [name, C] of Object.entries(CTORS)) {
    if (array instanceof C) return name as DataType;
  }
  throw new Error('not a supported typed array');
}

export function isLabelType(dtype: DataType): boolean {
  return dtype === 'uint32' || dtype === 'uint64';
}
