// A tiny assembler for the folded-WAT subset our WebAssembly kernels are written in: i32 params,
// i32/f32/f64/v128 locals (a local named `$v:v128`, `$f:f32` or `$d:f64` is of that type), block/loop/br/br_if,
// local.tee, select, i32 arithmetic, i32.reinterpret_f32, i32/f32/f64 loads (and i32.load16_u) and stores (with an optional `offset=N`, also on SIMD loads and stores), f32.add, f32x4.add, the few fixed-width SIMD (f64x2)
// instructions of the recursive filters (SIMD), one imported memory. Kernels stay readable text in the
// source tree and need no toolchain at build or run time.

/** The few WebAssembly API types the kernels use (the project's TS lib has no DOM/WebAssembly declarations). */
export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum?: number }) => { buffer: ArrayBuffer; grow(pages: number): number };
}
/** globalThis.WebAssembly, or undefined where there is none */
export const webAssembly = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const OPS: Record<string, number> = {
  'i32.add': 0x6a, 'i32.sub': 0x6b, 'i32.mul': 0x6c, 'i32.and': 0x71, 'i32.or': 0x72, 'i32.xor': 0x73,
  'i32.shl': 0x74, 'i32.shr_s': 0x75, 'i32.shr_u': 0x76, 'i32.eqz': 0x45, 'i32.eq': 0x46, 'i32.ne': 0x47,
  'i32.lt_s': 0x48, 'i32.lt_u': 0x49, 'i32.gt_s': 0x4a, 'i32.gt_u': 0x4b, 'i32.le_s': 0x4c, 'i32.ge_s': 0x4e,
  'i32.ge_u': 0x4f, 'f32.add': 0x92, 'f32.mul': 0x94, 'f32.lt': 0x5d, 'f32.eq': 0x5b, 'i32.reinterpret_f32': 0xbc, select: 0x1b,
};
// SIMD instructions without immediates (prefix 0xfd, then the opcode as LEB128)
const SIMD: Record<string, number> = {
  'i32x4.splat': 0x11, 'f64x2.splat': 0x14, 'v128.and': 0x4e, 'v128.or': 0x50, 'v128.bitselect': 0x52,
  'f32x4.add': 0xe4, 'f64x2.le': 0x4b, 'f64x2.lt': 0x49, 'f64x2.gt': 0x4a,
  'f32x4.demote_f64x2_zero': 0x5e, 'f64x2.promote_low_f32x4': 0x5f,
  'f64x2.sqrt': 0xef, 'f64x2.add': 0xf0, 'f64x2.sub': 0xf1, 'f64x2.mul': 0xf2, 'f64x2.div': 0xf3, 'f64x2.min': 0xf4, 'f64x2.max': 0xf5,
};
// SIMD memory instructions: opcode and natural alignment; lane loads/stores take the lane as their first argument
const SIMD_MEM: Record<string, [number, number]> = {
  'v128.load': [0x00, 4], 'v128.load64_splat': [0x0a, 3], 'v128.store': [0x0b, 4], 'v128.load64_zero': [0x5d, 3],
};
const SIMD_LANE: Record<string, [number, number]> = {
  'v128.load32_lane': [0x56, 2], 'v128.store32_lane': [0x5a, 2], 'v128.store64_lane': [0x5b, 3],
};
const TYPES: Record<string, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };
// memory instructions: opcode and natural alignment (log2 bytes)
const MEM: Record<string, [number, number]> = {
  'i32.load': [0x28, 2], 'i32.load8_u': [0x2d, 0], 'i32.load16_u': [0x2f, 1], 'f32.load': [0x2a, 2], 'i32.store': [0x36, 2], 'i32.store8': [0x3a, 0], 'f32.store': [0x38, 2],
  'f64.load': [0x2b, 3], 'f64.store': [0x39, 3],
};

type Sexp = string | Sexp[];

function parse(text: string): Sexp[] {
  const tokens = text.replace(/;;[^\n]*/g, ' ').match(/[()]|[^\s()]+/g) ?? [];
  let p = 0;
  const list = (): Sexp[] => {
    const out: Sexp[] = [];
    while (p < tokens.length && tokens[p] !== ')') {
      const t = tokens[p++];
      if (t === '(') {
        out.push(list());
        if (tokens[p++] !== ')') throw new Error('wat: unbalanced parentheses');
      } else out.push(t);
    }
    return out;
  };
  const r = list();
  if (p !== tokens.length) throw new Error('wat: unbalanced parentheses');
  return r;
}

const uleb = (v: number, out: number[]): void => {
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
};
const sleb = (v: number, out: number[]): void => {
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return void out.push(b);
    out.push(b | 0x80);
  }
};
const name = (s: string, out: number[]): void => {
  const b = new TextEncoder().encode(s);
  uleb(b.length, out);
  out.push(...b);
};

export interface WatFunction {
  name: string;
  params: string[];
  locals: string[];
  body: string;
}

/** Assemble a module that imports env.mem (a memory of at least one page) and exports the functions (i32 params, no results; locals i32 unless typed `name:f64` / `name:v128`). */
export function assembleModule(funcs: WatFunction[]): Uint8Array {
  const section = (id: number, content: number[], out: number[]): void => {
    out.push(id);
    uleb(content.length, out);
    out.push(...content);
  };
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(funcs.length, types);
  for (const f of funcs) {
    types.push(0x60);
    uleb(f.params.length, types);
    for (let i = 0; i < f.params.length; i++) types.push(0x7f);
    types.push(0x00);
  }
  section(1, types, out);
  const imports: number[] = [1];
  name('env', imports);
  name('mem', imports);
  imports.push(0x02, 0x00, 0x01);
  section(2, imports, out);
  const fsec: number[] = [];
  uleb(funcs.length, fsec);
  funcs.forEach((_, i) => uleb(i, fsec));
  section(3, fsec, out);
  const exps: number[] = [];
  uleb(funcs.length, exps);
  funcs.forEach((f, i) => {
    name(f.name, exps);
    exps.push(0x00);
    uleb(i, exps);
  });
  section(7, exps, out);
  const code: number[] = [];
  uleb(funcs.length, code);
  for (const f of funcs) {
    const body = compileBody(f);
    uleb(body.length, code);
    code.push(...body);
  }
  section(10, code, out);
  return Uint8Array.from(out);
}

function compileBody(f: WatFunction): number[] {
  const locals = new Map<string, number>();
  const typed = f.locals.map((l) => {
    const [n, t = 'i32'] = l.split(':');
    if (!(t in TYPES)) throw new Error(`wat ${f.name}: local ${n} of unknown type ${t}`);
    return { n, t: TYPES[t] };
  });
  for (const n of [...f.params, ...typed.map((l) => l.n)]) {
    if (locals.has(n)) throw new Error(`wat ${f.name}: local ${n} declared twice`);
    locals.set(n, locals.size);
  }
  const out: number[] = [];
  // runs of locals of one type, in declaration order
  const runs: Array<[number, number]> = [];
  for (const l of typed) {
    if (runs.length && runs[runs.length - 1][1] === l.t) runs[runs.length - 1][0]++;
    else runs.push([1, l.t]);
  }
  uleb(runs.length, out);
  for (const [count, t] of runs) {
    uleb(count, out);
    out.push(t);
  }
  const labels: string[] = [];
  const fail = (m: string): never => {
    throw new Error(`wat ${f.name}: ${m}`);
  };
  const local = (s: Sexp): number => (typeof s === 'string' && locals.has(s) ? locals.get(s)! : fail(`unknown local ${String(s)}`));
  const depth = (s: Sexp): number => {
    const i = typeof s === 'string' ? labels.lastIndexOf(s) : -1;
    return i < 0 ? fail(`unknown label ${String(s)}`) : labels.length - 1 - i;
  };
  const emit = (e: Sexp): void => {
    if (!Array.isArray(e) || typeof e[0] !== 'string') return void fail(`expected an instruction, got ${JSON.stringify(e)}`);
    const [op, ...args] = e as [string, ...Sexp[]];
    if (op === 'block' || op === 'loop') {
      out.push(op === 'block' ? 0x02 : 0x03, 0x40);
      labels.push(args[0] as string);
      args.slice(1).forEach(emit);
      labels.pop();
      out.push(0x0b);
    } else if (op === 'br') {
      out.push(0x0c);
      uleb(depth(args[0]), out);
    } else if (op === 'br_if') {
      args.slice(1).forEach(emit);
      out.push(0x0d);
      uleb(depth(args[0]), out);
    } else if (op === 'local.get' || op === 'local.set' || op === 'local.tee') {
      args.slice(1).forEach(emit);
      out.push(op === 'local.get' ? 0x20 : op === 'local.set' ? 0x21 : 0x22);
      uleb(local(args[0]), out);
    } else if (op === 'i32.const') {
      out.push(0x41);
      sleb(Number(args[0]) | 0, out);
    } else if (op in MEM) {
      // an optional first argument `offset=N`: the memarg's constant offset (added to the address)
      const m = typeof args[0] === 'string' ? /^offset=(\d+)$/.exec(args[0]) : null;
      (m ? args.slice(1) : args).forEach(emit);
      out.push(MEM[op][0], MEM[op][1]);
      uleb(m ? Number(m[1]) : 0, out);
    } else if (op in SIMD) {
      args.forEach(emit);
      out.push(0xfd);
      uleb(SIMD[op], out);
    } else if (op in SIMD_MEM) {
      const m = typeof args[0] === 'string' ? /^offset=(\d+)$/.exec(args[0]) : null;
      (m ? args.slice(1) : args).forEach(emit);
      out.push(0xfd);
      uleb(SIMD_MEM[op][0], out);
      out.push(SIMD_MEM[op][1]);
      uleb(m ? Number(m[1]) : 0, out);
    } else if (op in SIMD_LANE) {
      const lane = Number(args[0]);
      if (!Number.isInteger(lane) || lane < 0 || lane > 3) fail(`${op}: lane ${String(args[0])} is not 0-3`);
      const m = typeof args[1] === 'string' ? /^offset=(\d+)$/.exec(args[1]) : null;
      (m ? args.slice(2) : args.slice(1)).forEach(emit);
      out.push(0xfd);
      uleb(SIMD_LANE[op][0], out);
      out.push(SIMD_LANE[op][1]);
      uleb(m ? Number(m[1]) : 0, out);
      out.push(lane);
    } else if (op in OPS) {
      args.forEach(emit);
      out.push(OPS[op]);
    } else fail(`unsupported instruction ${op}`);
  };
  parse(f.body).forEach(emit);
  out.push(0x0b);
  return out;
}
