import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../../../test/cli-in-process.js';
import { tempDir } from '../../../test/data.js';
import { boxFromShape } from '../../core/box.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { pullback } from '../../stages/align/transform.js';
import { register } from './align.js';
import { register as phantom } from './phantom.js';

const cli = (...args: string[]) => runInProcess([register, phantom], args);

describe('wiring align on the phantom', () => {
  it('aligns the shifted sections (truth from phantom.json), reports the missing one, renders, applies to labels', async () => {
    const dir = await tempDir('align-phantom');
    const ds = path.join(dir, 'ds');
    await cli('phantom', ds, '--size', '192,192,8', '--seed', '7', '--chunk-size', '64,64,8', '--shifted-sections', '3', '--missing-sections', '1', '--max-shift', '6', '--workers', '1', '--json');
    const truth = JSON.parse(await fs.readFile(path.join(ds, 'phantom.json'), 'utf8')) as { shifted_sections: Array<{ z: number; dx: number; dy: number }>; missing_sections: number[] };
    expect(truth.shifted_sections.length).toBeGreaterThan(0);
    const out = path.join(dir, 'aligned');
    const plot = path.join(dir, 'quality.svg');
    const r = JSON.parse(await cli('align', path.join(ds, 'raw'), out, '--no-elastic', '--model', 'translation', '--match-nm', '8', '--plot', plot, '--workers', '1', '--json'));
    const rows = r.report.sections as Array<{ z: number; status: string; flags: string[] }>;
    for (const z of truth.missing_sections) expect(rows[z].status).toBe('missing');
    expect(r.report.missing).toEqual(truth.missing_sections);
    const tf = JSON.parse(await fs.readFile(path.join(out, 'transforms.json'), 'utf8'));
    const shift = (z: number) => truth.shifted_sections.find((s) => s.z === z) ?? { dx: 0, dy: 0 };
    const ref = rows.find((s) => s.status === 'reference')!.z;
    const errors: number[] = [];
    const unaligned: number[] = [];
    rows.forEach((row, z) => {
      if (row.status === 'missing') return;
      // raw_z(q) = clean(q + d_z); the output frame is the reference's, so T_z(p) = p + d_ref - d_z
      const [tx, ty] = pullback(tf.sections[z], 96, 96);
      errors.push(Math.hypot(tx - 96 - (shift(ref).dx - shift(z).dx), ty - 96 - (shift(ref).dy - shift(z).dy)));
      unaligned.push(Math.hypot(shift(ref).dx - shift(z).dx, shift(ref).dy - shift(z).dy));
    });
    // Shifts of up to 8.5 px brought to within 2 px: neighbouring 30 nm sections differ (oblique
    // neurites), which no pairwise matcher can tell from misalignment, and the error of each step
    // carries down the chain (docs/ALIGNMENT.md has the measured residuals).
    expect(Math.max(...unaligned)).toBeGreaterThan(4);
    expect(Math.max(...errors)).toBeLessThan(2);
    expect((await fs.readFile(plot, 'utf8')).startsWith('<svg')).toBe(true);
    // the rendered layer: a shifted section moved back (compare with the unshifted phantom in the clean section region)
    const aligned = await PrecomputedLayer.open(out);
    expect(aligned.info.scales[0].size).toEqual([192, 192, 8]);
    const vol = await aligned.readBox(boxFromShape([192, 192, 8]));
    expect(vol.dtype).toBe('uint8');
    // labels through the same transforms, nearest: ids are preserved exactly (no new ids)
    const lab = path.join(dir, 'neurons-aligned');
    await cli('align', path.join(ds, 'neurons'), lab, '--apply', path.join(out, 'transforms.json'), '--workers', '1', '--json');
    const before = await (await PrecomputedLayer.open(path.join(ds, 'neurons'))).readBox(boxFromShape([192, 192, 8]));
    const after = await (await PrecomputedLayer.open(lab)).readBox(boxFromShape([192, 192, 8]));
    const ids = new Set(before.data as BigUint64Array);
    ids.add(0n);
    for (const v of after.data as BigUint64Array) expect(ids.has(v)).toBe(true);
  });
});

describe('wiring align: bad input', () => {
  async function pngStack(dir: string, sizes: Array<[number, number]>, blank = false) {
    await fs.mkdir(dir, { recursive: true });
    for (let z = 0; z < sizes.length; z++) {
      const [w, h] = sizes[z];
      const px = Buffer.alloc(w * h, blank ? 128 : 0);
      if (!blank) for (let i = 0; i < px.length; i++) px[i] = (i * 7919 + z * 31) % 251;
      await sharp(px, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, `${String(z).padStart(2, '0')}.png`));
    }
  }

  it('names the problem: one section, sections of different sizes, all blank, transforms that do not fit', async () => {
    const dir = await tempDir('align-bad');
    await pngStack(path.join(dir, 'one'), [[64, 64]]);
    await expect(cli('align', path.join(dir, 'one'), path.join(dir, 'o1'), '--json')).rejects.toThrow(/1 section\(s\); alignment needs at least 2/);
    await pngStack(path.join(dir, 'sizes'), [[64, 64], [64, 48]]);
    await expect(cli('align', path.join(dir, 'sizes'), path.join(dir, 'o2'), '--json')).rejects.toThrow(/01\.png|size/i);
    await pngStack(path.join(dir, 'blank'), [[64, 64], [64, 64], [64, 64]], true);
    const r = JSON.parse(await cli('align', path.join(dir, 'blank'), path.join(dir, 'o3'), '--workers', '1', '--json'));
    expect(r.report.missing).toEqual([0, 1, 2]);
    await pngStack(path.join(dir, 'three'), [[64, 64], [64, 64], [64, 64]]);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o4'), '--apply', path.join(dir, 'o3', 'transforms.json'), '--json')).resolves.toBeDefined();
    await pngStack(path.join(dir, 'four'), [[64, 64], [64, 64], [64, 64], [64, 64]]);
    await expect(cli('align', path.join(dir, 'four'), path.join(dir, 'o5'), '--apply', path.join(dir, 'o3', 'transforms.json'), '--json')).rejects.toThrow(/transforms\.json: .*size \[64,64,3\].*size \[64,64,4\]/);
    await fs.writeFile(path.join(dir, 'bad.json'), JSON.stringify({ format: 'wiring-align-transforms', version: 1, source: { url: 'x', size: [64, 64, 3], voxel_offset: [0, 0, 0], voxel_size: [1, 1, 1] }, sections: [] }));
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o6'), '--apply', path.join(dir, 'bad.json'), '--json')).rejects.toThrow(/bad\.json: sections: 0 entries, expected one per section/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o7'), '--fill', 'zero', '--json')).rejects.toThrow(/--fill zero: expected none, copy, interpolate/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o8'), '--regularise', '-1', '--json')).rejects.toThrow(/--regularise: expected a number >= 0, got "-1"/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o8s'), '--regularise-scale', '-0.01', '--json')).rejects.toThrow(/--regularise-scale: expected a number >= 0, got "-0.01"/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o9'), '--elastic-prior', '-0.5', '--json')).rejects.toThrow(/--elastic-prior: expected a number >= 0, got "-0.5"/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o10'), '--regularise-to', 'free', '--json')).rejects.toThrow(/--regularise-to free: expected rigid or similarity/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o11'), '--pair-weight', 'peak', '--json')).rejects.toThrow(/--pair-weight peak: expected equal, ratio or ratio-in-set/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o14'), '--fallback-patch', '24', '--json')).rejects.toThrow(/fallbackPatch 24: expected 0 or a power of two >= 16/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o15'), '--search-fallback-patch', '-32', '--json')).rejects.toThrow(/--search-fallback-patch: expected a number >= 0, got "-32"/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o16'), '--patch-max-outside', '-0.1', '--json')).rejects.toThrow(/--patch-max-outside: expected a number >= 0, got "-0.1"/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o17'), '--patch-max-outside', '1', '--json')).rejects.toThrow(/patchMaxOutside 1: expected a fraction in \[0, 1\)/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o18'), '--damaged-flat-field', '-1', '--json')).rejects.toThrow(/--damaged-flat-field: expected a number >= 0, got "-1"/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o19'), '--flat-field', 'x', '--json')).rejects.toThrow(/--flat-field: expected a number >= 0, got "x"/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o12'), '--gap-match', '--gap-ratio', '0.5', '--json')).rejects.toThrow(/--gap-ratio: expected a number >= 1, got "0.5"/);
    await expect(cli('align', path.join(dir, 'three'), path.join(dir, 'o13'), '--gap-match', '--gap-patch', '24', '--json')).rejects.toThrow(/gapPatch 24: expected a power of two >= 16/);
  });
});

describe('wiring run with "align": true', () => {
  it('imports to raw-unaligned, aligns into raw, and predicts from the aligned layer', async () => {
    const { runSteps } = await import('./run.js');
    const steps = await runSteps({ raw: 'stack/', out: 'ds', onnx: 'net.onnx', align: true });
    const names = steps.map((s) => s.name);
    expect(names.slice(0, 3)).toEqual(['import', 'align', 'predict']);
    const args = (n: string) => (steps.find((s) => s.name === n) as { args: string[] }).args;
    expect(args('import')[2]).toBe(path.join('ds', 'raw-unaligned'));
    expect(args('align').slice(0, 3)).toEqual(['align', path.join('ds', 'raw-unaligned'), path.join('ds', 'raw')]);
    expect(args('predict')).toContain(path.join('ds', 'raw'));
    const plain = await runSteps({ raw: 'stack/', out: 'ds', onnx: 'net.onnx' });
    expect(plain.map((s) => s.name)).not.toContain('align');
  });

  it('the demo with --shifted-sections: shifted test phantom, imported unaligned, aligned before predict', async () => {
    const { demoSteps } = await import('./demo.js');
    const steps = demoSteps('out', [64, 64, 8], [8, 8, 30], 1, { trees: 2, samples: 100, shiftedSections: 3 });
    const at = (n: string) => steps.findIndex((s) => s.name === n);
    const args = (n: string) => (steps[at(n)] as { args: string[] }).args;
    expect(args('phantom')).toEqual(expect.arrayContaining(['--shifted-sections', '3']));
    expect(args('import')[2]).toBe(path.join('out', 'dataset', 'raw-unaligned'));
    expect(args('align').slice(0, 3)).toEqual(['align', path.join('out', 'dataset', 'raw-unaligned'), path.join('out', 'dataset', 'raw')]);
    expect(at('import')).toBeLessThan(at('align'));
    expect(at('align')).toBeLessThan(at('predict'));
    expect(demoSteps('out', [64, 64, 8], [8, 8, 30], 1, { trees: 2, samples: 100 }).map((s) => s.name)).not.toContain('align');
  });
});
