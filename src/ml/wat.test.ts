import { describe, expect, it } from 'vitest';
import { assembleModule, webAssembly } from './wat.js';

describe('wat assembler: typed locals and the f64x2 subset', () => {
  it('runs float64 pairs: load float32 pairs, promote, multiply-add, sqrt, demote, store one or two lanes', () => {
    const wa = webAssembly!;
    const mem = new wa.Memory({ initial: 1 });
    // out[0..2) = f32(sqrt(a * a + b)) for the float32 pairs a at 0, b at 8; out at 16; the second lane alone at 24
    const bytes = assembleModule([{
      name: 'f',
      params: ['$a', '$b', '$o'],
      locals: ['$x:v128', '$y:v128', '$k'],
      body: `
        (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $a))))
        (local.set $y (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $b))))
        (local.set $x (f64x2.sqrt (f64x2.add (f64x2.mul (local.get $x) (local.get $x)) (local.get $y))))
        (v128.store64_lane 0 (local.get $o) (f32x4.demote_f64x2_zero (local.get $x)))
        (local.set $k (select (i32.const 1) (i32.const 2) (i32.lt_s (local.get $a) (local.get $b))))
        (v128.store32_lane 1 (i32.add (local.get $o) (i32.shl (local.get $k) (i32.const 3))) (f32x4.demote_f64x2_zero (local.get $x)))`,
    }]);
    const f32 = new Float32Array(mem.buffer);
    f32.set([3, 0.5, 16, 2], 0);
    (new wa.Instance(new wa.Module(bytes), { env: { mem } }).exports.f as (...a: number[]) => void)(0, 8, 16);
    expect(Array.from(f32.subarray(4, 7))).toEqual([5, 1.5, 1.5]);
  });

  it('names what it cannot assemble', () => {
    const fn = (locals: string[], body: string) => ({ name: 'g', params: ['$a'], locals, body });
    expect(() => assembleModule([fn(['$v:v256'], '')])).toThrow(/g: local \$v of unknown type v256/);
    expect(() => assembleModule([fn(['$v:v128'], '(v128.store32_lane 4 (local.get $a) (local.get $v))')])).toThrow(/lane 4 is not 0-3/);
    expect(() => assembleModule([fn(['$v:v128', '$v'], '')])).toThrow(/local \$v declared twice/);
  });
});
