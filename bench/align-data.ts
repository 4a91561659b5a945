// Inputs of the alignment benchmark: the phantom's sections (exact shift truth) and real sections.
import { boxFromShape } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { type PhantomParams, phantomBlock, sectionArtefacts } from '../src/stages/phantom/tasks.js';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Image2D, image } from '../src/stages/align/image.js';
import { readSlice } from '../src/stages/align/testing.js';
import { type Synthetic, inFold, isMissing, makeSynthetic, mapBack, quantile } from '../src/stages/align/synthetic.js';
import { type AlignResult, alignStack, memorySource } from '../src/stages/align/solve.js';
import { pullback } from '../src/stages/align/transform.js';
import { cpuAsync } from './cpu.js';

const DATA = process.env.WIRING_DATA ?? new URL('../../shared/data', import.meta.url).pathname;

export function phantomStack(p: PhantomParams) {
  const box = boxFromShape(p.size);
  const res = phantomBlock({ box, readBox: box, inputs: {}, params: p, blockIndex: [0, 0, 0] });
  const raw = res.volumes!.raw as Volume<'uint8'>;
  const [w, h, nz] = p.size;
  const sections = Array.from({ length: nz }, (_, z) => image(w, h, Float32Array.from(raw.data.subarray(z * w * h, (z + 1) * w * h))));
  return { sections, art: sectionArtefacts(p) };
}

/** The first `nz` sections of a real stack: ISBI 2012's training images or vnc-sstem stack2's raw. */
export function sectionFiles(stack: 'isbi' | 'vnc', nz: number): string[] {
  return Array.from({ length: nz }, (_, z) => (stack === 'isbi' ? path.join(DATA, `isbi2012/train/image/${z}.png`) : path.join(DATA, `vnc-sstem/stack2/raw/${String(z).padStart(2, '0')}.tif`)));
}

/** The central size x size crop of each file's section. */
export async function realStack(files: string[], size: number): Promise<Image2D[]> {
  const out: Image2D[] = [];
  for (const f of files) {
    const s = await readSlice(f);
    const o = (s.w - size) >> 1;
    const oy = (s.h - size) >> 1;
    const im = image(size, size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) im.data[x + size * y] = s.data[o + x + s.w * (oy + y)];
    out.push(im);
  }
  return out;
}

/** The bench's known warps (rigid: shift, rotation, scale; elastic: smaller ones plus a smooth field and a fold), blank section 3 in both. */
export const BENCH_WARPS = {
  rigid: { shift: 10, rotation: 2, scale: 0.02, elastic: 0, missing: 3, foldSection: -1, fold: 0, seed: 5 },
  elastic: { shift: 6, rotation: 1, scale: 0.01, elastic: 4, missing: 3, foldSection: 5, fold: 6, seed: 7 },
};

/** Rotation (degrees) of the map p -> f(p) of a w-pixel-wide section, from two points 128 px apart about its centre. */
function rotationAbout(f: (x: number, y: number) => [number, number], w: number): number {
  const c = w / 2;
  const [ax, ay] = f(c - 64, c);
  const [bx, by] = f(c + 64, c);
  return (Math.atan2(by - ay, bx - ax) * 180) / Math.PI;
}

/**
 * The experiment scripts' per-section table: abs / rel / step median px (`digits` decimals), the
 * rotation each run leaves (warped: against the known warp; unwarped: the stack's own), and each
 * run's flags.
 */
export function printSections(e: ReturnType<typeof scoreAlignment>, syn: Synthetic, r: AlignResult, base: AlignResult, w: number, digits: number): void {
  const n = (v: number | null) => (v !== null && Number.isFinite(v) ? v.toFixed(digits) : '-');
  const t = r.transforms.sections;
  const tb = base.transforms.sections;
  const fl = (s: { flags: string[] }) => s.flags.filter((x) => x !== 'high-residual').join('+') || '.';
  console.log('  z    abs    rel   step  rot(warped) rot(unwarped)  flags warped | unwarped');
  for (const { z, abs_median_px: abs, rel_median_px: rel, step_median_px: step } of e.per_section) {
    const rw = rotationAbout((x, y) => mapBack(syn.warps[z], ...pullback(t[z], x, y)), w);
    const ru = rotationAbout((x, y) => pullback(tb[z], x, y), w);
    console.log(`  ${z} ${n(abs).padStart(6)} ${n(rel).padStart(6)} ${n(step).padStart(6)} ${rw.toFixed(2).padStart(8)} ${ru.toFixed(2).padStart(8)}   ${fl(r.sections[z])} | ${fl(base.sections[z])}`);
  }
}

/**
 * The experiments' stack by name: `phantom:<seed>` (a crop of at most 384 px, 8x8x30 nm), `isbi`
 * (4x4x50 nm) or `vnc` (vnc-sstem stack2, 4.6x4.6x50 nm), `nz` sections of `size` px.
 */
export async function experimentStack(ds: string, nz: number, size: number): Promise<{ orig: Image2D[]; vox: [number, number, number] }> {
  const isPh = ds.startsWith('phantom');
  const vox: [number, number, number] = ds === 'isbi' ? [4, 4, 50] : isPh ? [8, 8, 30] : [4.6, 4.6, 50];
  const orig = isPh
    ? phantomStack({ seed: Number(ds.split(':')[1] ?? 11), size: [Math.min(size, 384), Math.min(size, 384), nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 }).sections
    : await realStack(sectionFiles(ds === 'isbi' ? 'isbi' : 'vnc', nz), size);
  return { orig, vox };
}

/** The scoring grid: points BORDER px inside each section, STEP px apart. */
export const STEP = 16;
export const BORDER = 32;
/** Where a method puts point (x, y) of section z (its pullback). */
export type Pull = (z: number, x: number, y: number) => [number, number];

/**
 * The errors of an alignment of a synthetic stack on the grid of points BORDER px in, STEP px apart:
 * abs |G(T(p)) - p|; rel |G(T(p)) - T0(p)| with T0 the same method on the unwarped stack; step (below);
 * the same for sections after a present one (adjacent), and the medians per section. Points within
 * 4 + 2 `fold` px of a fold are left out (the bench passes the case's elastic amplitude there, the
 * experiment scripts its fold width: each as it always did).
 */
export function scoreAlignment(syn: Synthetic, pull: Pull, base: Pull, fold: number) {
  const abs: number[] = [];
  const rel: number[] = [];
  // step: the error of each adjacent pair's relative placement, |(G_z T_z - G_{z-1} T_{z-1})(p)|,
  // against the same difference on the unwarped stack: what one section step adds, not accumulated
  const step: number[] = [];
  // sections whose previous section is present (not matched across the blank one)
  const absAdj: number[] = [];
  const relAdj: number[] = [];
  // per section: which sections carry the stack's median (the one after the blank, or drift)
  // per section, each run's adjacent placement against the original frame (warped: |(G_z T_z - G_{z-1}
  // T_{z-1})(p)|; unwarped: |(T0_z - T0_{z-1})(p)|): how far the step's two answers each are from it
  const absStep: number[] = [];
  const baseStep: number[] = [];
  const perSection: Array<{ z: number; abs_median_px: number; rel_median_px: number; step_median_px: number | null; abs_step_median_px: number | null; base_step_median_px: number | null }> = [];
  const q = (v: number[], p: number) => +quantile(v, p).toFixed(3);
  syn.sections.forEach((im, z) => {
    if (z === 0 || isMissing(syn, z)) return;
    const adjacent = !isMissing(syn, z - 1);
    const g = syn.warps[z];
    const [a0, r0, s0] = [abs.length, rel.length, step.length];
    absStep.length = 0;
    baseStep.length = 0;
    for (let y = BORDER; y < im.h - BORDER; y += STEP) {
      for (let x = BORDER; x < im.w - BORDER; x += STEP) {
        if (inFold(g, [x, y], 4 + 2 * fold)) continue;
        const [qx, qy] = pull(z, x, y);
        const [px, py] = mapBack(g, qx, qy);
        const [bx, by] = base(z, x, y);
        abs.push(Math.hypot(px - x, py - y));
        rel.push(Math.hypot(px - bx, py - by));
        if (adjacent) {
          absAdj.push(Math.hypot(px - x, py - y));
          relAdj.push(Math.hypot(px - bx, py - by));
          if (z - 1 > 0) {
            const [qx1, qy1] = pull(z - 1, x, y);
            const [px1, py1] = mapBack(syn.warps[z - 1], qx1, qy1);
            const [bx1, by1] = base(z - 1, x, y);
            step.push(Math.hypot(px - px1 - (bx - bx1), py - py1 - (by - by1)));
            absStep.push(Math.hypot(px - px1, py - py1));
            baseStep.push(Math.hypot(bx - bx1, by - by1));
          }
        }
      }
    }
    perSection.push({ z, abs_median_px: q(abs.slice(a0), 0.5), rel_median_px: q(rel.slice(r0), 0.5), step_median_px: step.length > s0 ? q(step.slice(s0), 0.5) : null,
      abs_step_median_px: absStep.length ? q(absStep, 0.5) : null, base_step_median_px: baseStep.length ? q(baseStep, 0.5) : null });
  });
  return {
    abs_median_px: q(abs, 0.5), abs_p95_px: q(abs, 0.95), rel_median_px: q(rel, 0.5), rel_p95_px: q(rel, 0.95), points: abs.length,
    step_median_px: q(step, 0.5), step_p95_px: q(step, 0.95),
    adjacent: { abs_median_px: q(absAdj, 0.5), abs_p95_px: q(absAdj, 0.95), rel_median_px: q(relAdj, 0.5), rel_p95_px: q(relAdj, 0.95), points: absAdj.length },
    per_section: perSection,
  };
}

/**
 * Our alignment (parameters `params`) of the unwarped stack `orig` (`base`) and of its warped copy
 * `syn` (aligned: `r`, its CPU seconds `cpu`), scored by scoreAlignment with fold width `fold`.
 */
export async function alignAndScore(orig: Image2D[], syn: Synthetic, vox: [number, number, number], params: Record<string, unknown>, fold: number) {
  const base = await alignStack(memorySource(orig, vox), params);
  const [r, cpu] = await cpuAsync(() => alignStack(memorySource(syn.sections, vox), params));
  const t = r.transforms.sections;
  const tb = base.transforms.sections;
  const e = scoreAlignment(syn, (z, x, y) => pullback(t[z], x, y), (z, x, y) => pullback(tb[z], x, y), fold);
  return { base, r, e, cpu };
}

/**
 * One of the bench's cases as the experiment scripts run it: alignAndScore of the stack warped by
 * BENCH_WARPS[mode] (elastic for the elastic case) with the case's fold width.
 */
export async function runExperimentCase(orig: Image2D[], vox: [number, number, number], mode: 'rigid' | 'elastic', cfg: Record<string, unknown>) {
  const spec = BENCH_WARPS[mode];
  const syn = makeSynthetic(orig, spec);
  return { syn, ...(await alignAndScore(orig, syn, vox, { elastic: mode === 'elastic', ...cfg }, spec.fold)) };
}

/** The global affine's pair sets of the warped and the unwarped run, one line each (PAIRS=1 of the experiment scripts). */
export function printPairSets(r: AlignResult, base: AlignResult): void {
  for (const [name, res] of [['warped', r], ['unwarped', base]] as const) {
    console.log(`  pair sets (${name}): ` + res.pairs.map((s) => `${s.j}-${s.z} ${s.source === 'patches' ? '' : s.source}${s.kept}/${s.pairs} r${s.ratio_median ?? '-'} res${s.residual_median_px}`).join(', '));
  }
}

const REF_ALIGN = new URL('./refs/ref_align.py', import.meta.url).pathname;

/** The reference's pull-backs (its grid of STEP px, BORDER px in) as a Pull. */
export function refPull(sections: number[][][], w: number): Pull {
  const nx = Math.ceil((w - 2 * BORDER) / STEP);
  return (z, x, y) => {
    const v = sections[z][((y - BORDER) / STEP) * nx + (x - BORDER) / STEP];
    return [v[0], v[1]];
  };
}

/**
 * scikit-image on the same sections (bench/refs/ref_align.py: windowed phase_cross_correlation at the
 * matching level `level`, chained; + optical_flow_tvl1 for 'elastic'); `dir` holds the raw it reads.
 */
export function runRef(dir: string, name: string, sections: Image2D[], mode: 'rigid' | 'elastic', level: number) {
  const { w, h } = sections[0];
  const file = path.join(dir, `${name}.f32`);
  const buf = new Float32Array(w * h * sections.length);
  sections.forEach((s, z) => buf.set(s.data, z * w * h));
  writeFileSync(file, Buffer.from(buf.buffer));
  const out = execFileSync('/usr/bin/python3', [REF_ALIGN, file, '--shape', `${sections.length},${h},${w}`, '--mode', mode, '--step', String(STEP), '--border', String(BORDER), '--level', String(level)], {
    encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as { sections: number[][][]; cpu_seconds: { match: number; render: number } };
}
