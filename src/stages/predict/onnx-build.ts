/**
 * A minimal ONNX model writer (hand-encoded protobuf, onnx.proto3 field numbers) for building small
 * models with exactly known outputs: used by the tests and benchmarks of CNN inference.
 * Supports what those need: float tensors, nodes with int/ints/float attributes, initializers,
 * and inputs/outputs with fixed or symbolic dimensions.
 */

class Pb {
  private parts: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
    return this;
  }
  key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number): this {
    return this.key(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2).varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.done());
  }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    for (const x of b) this.parts.push(x);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export type Attr = number | number[] | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, Attr>;
}

export interface OnnxValue {
  name: string;
  /** dims; a string is a symbolic (dynamic) dimension */
  shape: Array<number | string>;
}

const FLOAT = 1;

function tensor(name: string, dims: number[], data: Float32Array): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  t.int(2, FLOAT);
  t.str(8, name);
  t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return t;
}

function valueInfo(v: OnnxValue): Pb {
  const shape = new Pb();
  for (const d of v.shape) {
    const dim = new Pb();
    if (typeof d === 'number') dim.int(1, d);
    else dim.str(2, d);
    shape.msg(1, dim);
  }
  const tt = new Pb().int(1, FLOAT).msg(2, shape);
  return new Pb().str(1, v.name).msg(2, new Pb().msg(1, tt));
}

/** Encode an ONNX model (opset 13 by default). */
export function buildOnnxModel(o: {
  nodes: OnnxNode[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  initializers?: Array<{ name: string; dims: number[]; data: Float32Array }>;
  opset?: number;
}): Uint8Array {
  const g = new Pb();
  o.nodes.forEach((n, i) => {
    const node = new Pb();
    for (const x of n.inputs) node.str(1, x);
    for (const x of n.outputs) node.str(2, x);
    node.str(3, `n${i}`);
    node.str(4, n.op);
    for (const [name, v] of Object.entries(n.attrs ?? {})) {
      const a = new Pb().str(1, name);
      if (typeof v === 'number') a.int(3, v).int(20, 2); // INT
      else if (Array.isArray(v)) {
        for (const x of v) a.int(8, x);
        a.int(20, 7); // INTS
      } else a.float(2, v.float).int(20, 1); // FLOAT
      node.msg(5, a);
    }
    g.msg(1, node);
  });
  g.str(2, 'wiring-test-graph');
  for (const t of o.initializers ?? []) g.msg(5, tensor(t.name, t.dims, t.data));
  for (const v of o.inputs) g.msg(11, valueInfo(v));
  for (const v of o.outputs) g.msg(12, valueInfo(v));
  const m = new Pb();
  m.int(1, 7); // ir_version
  m.str(2, 'wiring');
  m.msg(7, g);
  m.msg(8, new Pb().str(1, '').int(2, o.opset ?? 13));
  return m.done();
}
