import * as path from 'node:path';
import type { Command } from 'commander';
import type { Vec3 } from '../../core/box.js';
import { parseXyz } from '../xyz.js';
import { writeJsonAtomic } from '../../core/atomic.js';
import { UsageError } from '../../core/errors.js';
import { lineChart, stack, writePlot } from '../../connectome/plots.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { openSource } from '../../formats/open.js';
import { runTasks } from '../../scheduler/index.js';
import { ALIGN_DEFAULTS, type AlignParams, type SectionReport, alignStack } from '../../stages/align/solve.js';
import { FILLS, type Fill, loadTransforms, renderBlock, renderTask, shardedRenderBlock } from '../../stages/align/tasks.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';
import { addShardingOption, shardingFor } from '../sharding-options.js';

const D = ALIGN_DEFAULTS;

function num(text: string | undefined, what: string, fallback: number, min = -Infinity): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${what}: expected a number >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

function fmt(x: number | null, digits = 2): string {
  return x === null ? '-' : x.toFixed(digits);
}

/** The per-section table. */
export function sectionTable(rows: SectionReport[], nm: number): string {
  // unsure px: where patch matching failed, how far the best failed patch fit would place the section (SectionReport.unsure_px)
  const head = ['z', 'status', 'matched', 'valid', 'residual px (nm) med/p95', 'corr before->after', 'rot deg', 'scale', 'unsure px', 'flags'];
  const lines = rows.map((r) => [
    String(r.z), r.status, r.matched_to === null ? '-' : String(r.matched_to), fmt(r.valid_patches),
    r.residual_median_px === null ? '-' : `${fmt(r.residual_median_px)}/${fmt(r.residual_p95_px)} (${fmt(r.residual_median_px * nm, 0)})`,
    `${fmt(r.corr_before)}->${fmt(r.corr_after)}`, fmt(r.rotation_deg, 3), fmt(r.scale, 4), fmt(r.unsure_px, 1), r.flags.join(','),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [head, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** The quality plot: correlation with the neighbour before/after, residual displacement. */
export function qualityPlot(rows: SectionReport[], nm: number): string {
  const ok = rows.filter((r) => r.corr_before !== null);
  const corr = lineChart({
    title: 'Correlation with the previous good section',
    xLabel: 'section z',
    yLabel: 'Pearson r (coarse scale)',
    series: [
      { name: 'before', x: ok.map((r) => r.z), y: ok.map((r) => r.corr_before!) },
      { name: 'after', x: ok.filter((r) => r.corr_after !== null).map((r) => r.z), y: ok.filter((r) => r.corr_after !== null).map((r) => r.corr_after!) },
    ],
  });
  const res = rows.filter((r) => r.residual_median_px !== null);
  const resid = lineChart({
    title: 'Residual displacement to the previous good section after alignment',
    xLabel: 'section z',
    yLabel: 'nm',
    series: [
      { name: 'median', x: res.map((r) => r.z), y: res.map((r) => r.residual_median_px! * nm) },
      { name: '95th percentile', x: res.map((r) => r.z), y: res.map((r) => r.residual_p95_px! * nm) },
    ],
  });
  return stack([corr, resid]);
}

export function register(program: Command): Command {
  const cmd = program
    .command('align')
    .description(
      'align serial sections (affine from patch phase correlation + RANSAC pairs, solved by least squares over all sections and their neighbours; then elastic: spring meshes of all sections relaxed together against their neighbours), ' +
        'render the aligned layer blockwise, keep the transforms beside it (<out>/transforms.json); ' +
        'with --apply, warp another layer (labels: nearest) by existing transforms',
    )
    .argument('<raw>', 'the stack to align (any source: precomputed, PNG/TIFF folder, .h5#dataset, .zarr, .npy); with --apply, the layer to warp')
    .argument('<out-layer>', 'output precomputed layer folder (same geometry as the input)')
    .option('--apply <transforms.json>', 'do not solve: warp <raw> by these transforms')
    .option('--model <m>', 'affine model: translation, rigid, similarity, affine', D.model)
    .option('--neighbours <n>', 'previous good sections each section is matched against', String(D.neighbours))
    .option('--no-elastic', 'affine only (no spring mesh)')
    .option('--no-global', 'keep the sequential chain\'s affines (no global least-squares solve)')
    .option('--regularise <l>', 'affine model: pull each section toward its rigid part, relative to its point pairs (0: free affine; stops scale drift on long stacks)', String(D.regularise))
    .option('--regularise-to <m>', 'what --regularise pulls each affine toward: rigid (the similarity solution\'s rotation) or similarity (uniform scale left free: sections whose scale genuinely varies)', D.regulariseTo)
    .option('--regularise-scale <w>', `weight of --regularise's pull on each section's uniform scale alone, relative to its point pairs (default: the --regularise weight${D.regulariseScale === null ? '' : `; ${D.regulariseScale}`}; 0 with rigid = similarity); docs/ALIGNMENT.md, The prior on uniform scale`, D.regulariseScale === null ? undefined : String(D.regulariseScale))
    .option('--features', `where patch matching fails, try rotation-invariant feature matches (DoG keypoints, oriented descriptors) at ${D.featureNm} nm (default off: not better than the translation on real 50 nm sections)`)
    .option('--no-search', `where patch matching fails, do not search the section's rotation (±${D.searchRotation}°), scale (±${D.searchScale * 100} %) and a shift of most of its side at the coarse scale (sections placed by hand; docs/ALIGNMENT.md, Large misalignments)`)
    .option('--search-rotation <deg>', 'largest rotation the search tries, degrees, against the previous section', String(D.searchRotation))
    .option('--search-scale <f>', 'largest relative scale change the search tries (0.2 = 20 %)', String(D.searchScale))
    .option('--blank-zero-fraction <f>', 'a section with more exact zeros than this is missing; below it, its zero (unimaged) part is left out of matching', String(D.blankZeroFraction))
    .option('--stiffness <k>', 'spring stiffness between mesh nodes relative to one patch match', String(D.stiffness))
    .option('--elastic-prior <w>', 'pull of every mesh node toward the affine (zero displacement), relative to one patch match (0: off)', String(D.elasticPrior))
    .option('--elastic-prior-shape', 'the elastic prior pulls only the mesh\'s shape toward the affine, each section\'s translation left free (better equivariance on real stacks, worse on the phantom\'s exact frame: docs/ALIGNMENT.md)')
    .option('--pair-weight <w>', 'global affine: weight of each patch pair, equal, ratio (by its correlation peak ratio) or ratio-in-set (the same, each pair set keeping its total weight); docs/ALIGNMENT.md', D.pairWeight)
    .option('--chain-pair-weight <w>', 'global affine: weight of the 9 pairs that keep a section whose patch matching failed where the chain put it (1: like a patch pair)', String(D.chainPairWeight))
    .option('--gap-match', `a section after a missing one is matched to the good sections across the gap once more, at ${D.gapNm} nm with ${D.gapPatch} px patches (--gap-nm, --gap-patch, --gap-ratio), its own pair sets in the global affine (default off: docs/ALIGNMENT.md, The match across the gap)`)
    .option('--gap-nm <nm>', 'pixel size of the match across a gap, nm', String(D.gapNm))
    .option('--gap-patch <px>', 'patch side of the match across a gap (power of two)', String(D.gapPatch))
    .option('--gap-ratio <r>', 'correlation peak ratio below which a patch across a gap is an outlier', String(D.gapRatio))
    .option('--elastic-guard', 'drop the mesh of a section that correlates with its neighbour better without it (default off: docs/ALIGNMENT.md)')
    .option('--match-nm <nm>', 'pixel size of the matching scale, nm', String(D.matchNm))
    .option('--patch <px>', 'affine patch side at the matching scale (power of two)', String(D.patch))
    .option('--search-fallback-patch <px>', 'a search result whose affine patch rounds failed is refined on a grid of this side (power of two; 0: none; docs/ALIGNMENT.md, The sections the defaults lost)', String(D.searchFallbackPatch))
    .option('--flat-field <px>', 'match on locally contrast-normalised sections: Gaussian sigma of the local mean/std, px at the matching scale (0: off; uneven illumination, docs/ALIGNMENT.md); never changes the rendered output', String(D.flatField))
    .option('--damaged-flat-field <px>', 'the damaged test (aligned correlation with the neighbour under half the stack median) on locally contrast-normalised images: Gaussian sigma, px at the matching scale (0: plain correlation; docs/ALIGNMENT.md, Uneven illumination)', String(D.damagedFlatField))
    .option('--fallback-patch <px>', 'where the affine grid fails from the coarse translation and the search did not place the section, the patch rounds again on a grid of this side (power of two; 0: none, the default)', String(D.fallbackPatch))
    .option('--patch-max-outside <f>', `affine stage: a patch more than this fraction outside the section (beyond its edge, or a partial section's unimaged part) is not matched (0.5 keeps the corner patches of sections shifted far; opt-in: docs/ALIGNMENT.md, The decision at six inliers)`, String(D.patchMaxOutside))
    .option('--fine-patch <px>', 'affine stage: a second grid of smaller patches (power of two; 0: none), solved on its own; the guard keeps the solution that correlates best', String(D.finePatch))
    .option('--detrend <sections>', 'remove the slow rotation drift along z (Gaussian window of its local slope, sections; 0: off; for long stacks, see docs/ALIGNMENT.md)', String(D.detrend))
    .option('--elastic-patch <px>', 'elastic patch side = 2x mesh spacing at the matching scale (power of two)', String(D.elasticPatch))
    .option('--min-ratio <r>', 'correlation peak ratio below which a patch is an outlier', String(D.minRatio))
    .option('--fill <mode>', `missing sections: ${FILLS.join(', ')}`, 'none')
    .option('--sampling <s>', 'linear or nearest (default: nearest for segmentations, linear for images)')
    .option('--chunk-size <X,Y,Z>', 'chunk size of the output layer (default: 64,64,1 clipped to the size)')
    .option('--report <file.json>', 'also write the per-section quality report here (default <out-layer>/align-report.json)')
    .option('--plot <file>', 'quality plot (.svg or .png)')
    .option('--json', 'machine-readable output');
  addShardingOption(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (rawSpec: string, outDir: string, opts) => {
    const fill = opts.fill as Fill;
    if (!FILLS.includes(fill)) throw new UsageError(`--fill ${opts.fill}: expected ${FILLS.join(', ')}`);
    if (!['equal', 'ratio', 'ratio-in-set'].includes(opts.pairWeight)) throw new UsageError(`--pair-weight ${opts.pairWeight}: expected equal, ratio or ratio-in-set`);
    if (!['rigid', 'similarity'].includes(opts.regulariseTo)) throw new UsageError(`--regularise-to ${opts.regulariseTo}: expected rigid or similarity`);
    if (opts.sampling !== undefined && !['linear', 'nearest'].includes(opts.sampling)) throw new UsageError(`--sampling ${opts.sampling}: expected linear or nearest`);
    const src = await openSource(rawSpec);
    const sampling = (opts.sampling ?? (src.kind === 'segmentation' || src.dtype === 'uint64' ? 'nearest' : 'linear')) as 'linear' | 'nearest';
    const out = path.resolve(outDir);
    const transformsFile = opts.apply ? path.resolve(opts.apply) : path.join(out, 'transforms.json');
    let rows: SectionReport[] | null = null;
    if (!opts.apply) {
      const params: Partial<AlignParams> = {
        model: opts.model,
        neighbours: num(opts.neighbours, '--neighbours', D.neighbours, 1),
        elastic: opts.elastic !== false,
        global: opts.global !== false,
        regularise: num(opts.regularise, '--regularise', D.regularise, 0),
        regulariseTo: opts.regulariseTo,
        regulariseScale: opts.regulariseScale === undefined ? D.regulariseScale : num(opts.regulariseScale, '--regularise-scale', 0, 0),
        features: opts.features === true,
        search: opts.search !== false,
        searchRotation: num(opts.searchRotation, '--search-rotation', D.searchRotation, 0),
        searchScale: num(opts.searchScale, '--search-scale', D.searchScale, 0),
        blankZeroFraction: num(opts.blankZeroFraction, '--blank-zero-fraction', D.blankZeroFraction, 0),
        stiffness: num(opts.stiffness, '--stiffness', D.stiffness, 0),
        elasticPrior: num(opts.elasticPrior, '--elastic-prior', D.elasticPrior, 0),
        elasticPriorShape: opts.elasticPriorShape === true,
        pairWeight: opts.pairWeight,
        chainPairWeight: num(opts.chainPairWeight, '--chain-pair-weight', D.chainPairWeight, 1e-9),
        elasticGuard: opts.elasticGuard === true,
        gapMatch: opts.gapMatch === true,
        gapNm: num(opts.gapNm, '--gap-nm', D.gapNm, 1e-9),
        gapPatch: num(opts.gapPatch, '--gap-patch', D.gapPatch, 16),
        gapRatio: num(opts.gapRatio, '--gap-ratio', D.gapRatio, 1),
        matchNm: num(opts.matchNm, '--match-nm', D.matchNm, 0),
        patch: num(opts.patch, '--patch', D.patch, 16),
        finePatch: num(opts.finePatch, '--fine-patch', D.finePatch, 0),
        searchFallbackPatch: num(opts.searchFallbackPatch, '--search-fallback-patch', D.searchFallbackPatch, 0),
        fallbackPatch: num(opts.fallbackPatch, '--fallback-patch', D.fallbackPatch, 0),
        flatField: num(opts.flatField, '--flat-field', D.flatField, 0),
        damagedFlatField: num(opts.damagedFlatField, '--damaged-flat-field', D.damagedFlatField, 0),
        patchMaxOutside: num(opts.patchMaxOutside, '--patch-max-outside', D.patchMaxOutside, 0),
        detrend: num(opts.detrend, '--detrend', D.detrend, 0),
        elasticPatch: num(opts.elasticPatch, '--elastic-patch', D.elasticPatch, 16),
        minRatio: num(opts.minRatio, '--min-ratio', D.minRatio, 0),
      };
      params.elasticStride = params.elasticPatch! / 2;
      params.stride = params.patch! / 2;
      const res = await alignStack(src, params, (r) => {
        if (!opts.json) process.stderr.write(`\ralign: section ${r.z} ${r.status}${r.flags.length ? ` (${r.flags.join(',')})` : ''}   `);
      });
      if (!opts.json) process.stderr.write('\n');
      rows = res.sections;
      await writeJsonAtomic(transformsFile, res.transforms);
    } else {
      await loadTransforms(transformsFile); // validate before creating anything
    }
    const want = opts.chunkSize ? parseXyz(opts.chunkSize, '--chunk-size', 'size') : ([64, 64, 1] as const);
    const chunk: Vec3 = [Math.min(want[0], src.shape[0]), Math.min(want[1], src.shape[1]), Math.min(want[2], src.shape[2])];
    const kind = src.kind === 'segmentation' || src.dtype === 'uint64' ? 'segmentation' : 'image';
    // a sharded output is rendered in larger blocks (8 sections) whose shards each block writes once
    const sharding = shardingFor(opts, src.shape, chunk, kind, shardedRenderBlock(chunk));
    const info = makeInfo({ type: kind, dtype: src.dtype, shape: src.shape, voxelSize: src.voxelSize, offset: src.offset, chunkSize: chunk, sharding });
    await src.close();
    let layer: PrecomputedLayer;
    try {
      layer = await PrecomputedLayer.open(out);
      const s = layer.info.scales[0];
      if (layer.info.data_type !== info.data_type || s.size.some((v, i) => v !== info.scales[0].size[i])) {
        throw new UsageError(`${out} exists with another geometry or data type; remove it or choose another folder`);
      }
      if (!!s.sharding !== !!sharding) {
        throw new UsageError(`${out} exists ${s.sharding ? 'sharded' : 'unsharded'}; this run writes it ${sharding ? 'sharded' : 'unsharded'} (--sharded / --no-sharded): rerun as before to resume, or remove it`);
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      layer = await PrecomputedLayer.create(out, info, { writing: 'align:render' });
    }
    const outChunk = layer.info.scales[0].chunk_sizes[0];
    const task = await renderTask({ source: rawSpec, transforms: transformsFile, out, sampling, fill, chunk: outChunk, blockShape: layer.info.scales[0].sharding ? shardedRenderBlock(outChunk) : renderBlock(outChunk) });
    const run = await runTasks([task], schedulerOptions(opts, path.join(out, '.wiring-run')));
    const nm = src.voxelSize[0];
    let report: unknown = null;
    if (rows) {
      const flagged = rows.filter((r) => r.flags.some((f) => f !== 'skipped-neighbour'));
      const res = rows.filter((r) => r.residual_median_px !== null).map((r) => r.residual_median_px!);
      res.sort((a, b) => a - b);
      report = {
        sections: rows,
        flagged: flagged.map((r) => ({ z: r.z, status: r.status, flags: r.flags })),
        missing: rows.filter((r) => r.status === 'missing').map((r) => r.z),
        damaged: rows.filter((r) => r.status === 'damaged').map((r) => r.z),
        residual_median_nm: res.length ? +(res[res.length >> 1] * nm).toFixed(1) : null,
      };
      const reportFile = opts.report ? path.resolve(opts.report) : path.join(out, 'align-report.json');
      await writeJsonAtomic(reportFile, report);
      if (opts.plot) await writePlot(opts.plot, qualityPlot(rows, nm));
    }
    const result = { raw: rawSpec, out, transforms: transformsFile, sampling, fill, report, blocks: run.blocks, computed: run.computed, seconds: run.seconds };
    emit(opts, result, () => {
      const lines = [`${out}: aligned ${src.shape[2]} sections (${sampling}, fill ${fill}); transforms ${transformsFile}`];
      if (rows) {
        lines.push(sectionTable(rows, nm));
        const r = report as { missing: number[]; damaged: number[]; flagged: unknown[]; residual_median_nm: number | null };
        lines.push(`missing: [${r.missing}]  damaged: [${r.damaged}]  flagged: ${r.flagged.length}  median residual: ${r.residual_median_nm ?? '-'} nm`);
      }
      return lines.join('\n');
    });
  });
}
