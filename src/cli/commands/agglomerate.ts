import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { parseXyz } from '../xyz.js';
import { UsageError } from '../../core/errors.js';
import { boxEquals } from '../../core/box.js';
import { Forest } from '../../ml/forest.js';
import { relabel } from '../../stages/segment/agglomerate.js';
import { carriedThreshold, readWhole, writeJsonAtomic, writeSegmentation } from '../../stages/segment/io.js';
import { type AgglomerationMethod, type AgglomerationParams, boundaryMaps, computeAgglomeration, denseSupervoxels, mergeTreeJson } from '../../stages/segment/pipeline.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';
import { affinityOrder, anisotropic, boundaryChannel, parseNumberOption } from './supervoxels.js';
import { type Vec3, boxFromShape } from '../../core/box.js';
import { openSource } from '../../formats/open.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { absoluteSpec, readBlockData, runTasks } from '../../scheduler/index.js';
import { mergeBlockRags, ragTask, relabelTask, writeSegmentMap } from '../../stages/segment/blockwise.js';
import { agglomerateRag, DEFAULT_CONTACT } from '../../stages/segment/pipeline.js';
import { chunkForBlock } from '../../stages/segment/tasks.js';

export function addAgglomerationOptions(cmd: Command): Command {
  return cmd
    .option('--threshold <t>', 'merge while the score is <= t (default: the boundary layer\'s info "wiring": {"segment_threshold"} if any, else mean 0.7, quantile 0.8, learned 0.5, mutex bias 0.8; on anisotropic stacks, z > 2 x/y: mean 0.55, quantile 0.6, mutex 0.6); "auto" (mean): calibrated from the contact scores')
    .option('--model <file>', 'learned agglomeration with a model from `wiring train-agglomeration`')
    .option('--method <m>', 'mean (default), quantile, mutex or learned (implied by --model)')
    .option('--quantile <q>', 'quantile method: which quantile of the contact boundary values (default 0.5)');
}

export async function agglomerationParams(opts: Record<string, string | boolean | undefined>): Promise<AgglomerationParams> {
  const method = (opts.method ?? (opts.model ? 'learned' : 'mean')) as AgglomerationMethod;
  if (!['mean', 'quantile', 'mutex', 'learned'].includes(method)) throw new UsageError(`--method: expected mean, quantile, mutex or learned, got ${JSON.stringify(method)}`);
  let forest: Forest | undefined;
  if (method === 'learned') {
    if (!opts.model) throw new UsageError('--method learned needs --model <file> (from wiring train-agglomeration)');
    const bytes = await fs.readFile(String(opts.model)).catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`--model ${opts.model}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
    forest = Forest.fromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), String(opts.model));
    if (forest.meta.kind !== 'wiring-agglomeration') throw new UsageError(`--model ${opts.model}: not an agglomeration model (made by wiring train-agglomeration)`);
  }
  let threshold: number | 'auto' | undefined = opts.threshold === 'auto' ? 'auto' as const : parseNumberOption(opts.threshold, '--threshold');
  // no --threshold: a cut carried by the boundary layer (info "wiring": {"segment_threshold"}) wins over the defaults
  if (threshold === undefined && method === 'mean' && typeof opts.boundaries === 'string') threshold = carriedThreshold(opts.boundaries);
  if (threshold === 'auto' && method !== 'mean') throw new UsageError(`--threshold auto is for the mean method, not ${method}`);
  const quantile = parseNumberOption(opts.quantile, '--quantile', { min: 0, max: 1 });
  if (method === 'mutex' && typeof threshold === 'number' && !(threshold > 0 && threshold < 1)) throw new UsageError('--threshold: the mutex bias must be between 0 and 1');
  return { method, threshold, quantile, forest, bias: method === 'mutex' && typeof threshold === 'number' ? threshold : undefined };
}

export function register(program: Command): Command {
  const cmd = program
    .command('agglomerate')
    .description('merge supervoxels into segments over their region adjacency graph; writes the segmentation and its merge tree (merge_tree.json)')
    .requiredOption('--supervoxels <source>', 'supervoxel labels (any readable label volume)')
    .requiredOption('--boundaries <source>', 'boundary probability map or affinities, same grid')
    .argument('<out-layer>', 'output precomputed segmentation layer folder')
    .option('--affinity-order <o>', '3-channel input: channel order xyz or zyx', 'xyz')
    .option('--channel <c>', 'use channel c of a multi-channel map as the boundary probability')
    .option('--2d', 'only in-section contacts')
    .option('--overwrite', 'replace an existing layer')
    .option('--block <x,y,z>', 'bounded memory: accumulate the region graph and write the segmentation block by block through the scheduler')
    .option('--json', 'machine-readable output');
  addAgglomerationOptions(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (out: string, opts) => {
    const t0 = performance.now();
    const params = await agglomerationParams(opts);
    params.twoD = !!opts['2d'];
    if (opts.block) {
      const r = await blockwiseAgglomeration(out, { supervoxels: opts.supervoxels, boundaries: opts.boundaries, block: parseXyz(String(opts.block), '--block', 'size'), params, opts });
      const result = { ...r, seconds: +((performance.now() - t0) / 1000).toFixed(3) };
      emit(opts, result, () => `${out}: ${r.segments} segments from ${r.supervoxels} supervoxels (${r.method}, threshold ${r.threshold}; ${r.merges} merges in the tree; ${r.blocks} blocks)`);
      return;
    }
    const [{ vol: svVol }, { vol: bVol }] = await Promise.all([readWhole(opts.supervoxels), readWhole(opts.boundaries)]);
    if (!boxEquals(svVol.box, bVol.box)) {
      throw new UsageError(`--supervoxels ${opts.supervoxels} covers [${svVol.box.min}]..[${svVol.box.max}] but --boundaries ${opts.boundaries} covers [${bVol.box.min}]..[${bVol.box.max}]; they must share one grid`);
    }
    const sv = denseSupervoxels(svVol);
    const maps = boundaryMaps(bVol, { affinityOrder: affinityOrder(opts.affinityOrder), channel: boundaryChannel(opts.channel) });
    params.anisotropic = anisotropic(svVol.voxelSize);
    const res = computeAgglomeration(sv.labels, maps, params);
    const seg = relabel(sv.labels, res.map, new Uint32Array(sv.labels.length));
    const layer = await writeSegmentation(out, seg, { shape: svVol.shape, offset: svVol.box.min, voxelSize: svVol.voxelSize }, { overwrite: !!opts.overwrite });
    await writeJsonAtomic(path.join(layer.dir, 'merge_tree.json'), mergeTreeJson(res.tree, sv.ids, { method: res.method, threshold: res.threshold, supervoxels_source: opts.supervoxels }));
    const result = { layer: out, method: res.method, threshold: res.threshold, supervoxels: sv.count, edges: res.rag.nEdges, merges: res.tree.count, segments: res.count, merge_tree: path.join(out, 'merge_tree.json'), seconds: +((performance.now() - t0) / 1000).toFixed(3) };
    emit(opts, result, () => `${out}: ${res.count} segments from ${sv.count} supervoxels (${res.method}, threshold ${res.threshold}; ${res.tree.count} merges in the tree)`);
  });
}

/**
 * `--block`: the region graph is accumulated block by block (each block reads its supervoxels and
 * boundaries grown by one voxel), merged in memory (graph only), agglomerated, and the segmentation
 * is written block by block from a supervoxel -> segment table. Memory: one block's voxels per
 * worker plus the graph. Same partition as the whole-volume path (tested in
 * src/stages/segment/blockwise.test.ts).
 */
export async function blockwiseAgglomeration(
  out: string,
  o: { supervoxels: string; boundaries: string; block: Vec3; params: AgglomerationParams; opts: Record<string, any>; chunk?: Vec3 },
): Promise<{ layer: string; method: AgglomerationMethod; threshold: number; supervoxels: number; edges: number; merges: number; segments: number; blocks: number; resumed: number; merge_tree: string }> {
  const [sv, b] = [await openSource(o.supervoxels), await openSource(o.boundaries)];
  await Promise.all([sv.close(), b.close()]);
  const svBox = boxFromShape(sv.shape, sv.offset);
  if (!boxEquals(svBox, boxFromShape(b.shape, b.offset))) {
    throw new UsageError(`--supervoxels ${o.supervoxels} covers [${svBox.min}]..[${svBox.max}] but --boundaries ${o.boundaries} covers [${b.offset}]..[${b.offset.map((v, i) => v + b.shape[i])}]; they must share one grid`);
  }
  if (sv.channels !== 1 || sv.dtype === 'float32') throw new UsageError(`--supervoxels ${o.supervoxels}: expected a 1-channel integer label volume, got ${sv.channels} x ${sv.dtype}`);
  // A block reaching past the volume is clamped to it: to the volume's size, or, when the chunks are
  // given, to whole chunks covering it (the scheduler wants blocks made of whole chunks).
  const roundUp = (v: number, c: number) => Math.ceil(v / c) * c;
  const block = o.block.map((v, i) => (o.chunk ? Math.min(roundUp(v, o.chunk[i]), roundUp(sv.shape[i], o.chunk[i])) : Math.min(v, sv.shape[i]))) as unknown as Vec3;
  o.params.anisotropic ??= anisotropic(sv.voxelSize);
  const ragParams = { affinityOrder: affinityOrder(o.opts.affinityOrder), channel: boundaryChannel(o.opts.channel), invert: !!o.opts.invert, contact: o.params.contact ?? DEFAULT_CONTACT, twoD: o.params.twoD };
  const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape: sv.shape, voxelSize: sv.voxelSize, offset: sv.offset, chunkSize: o.chunk ?? chunkForBlock(block) });
  // What made this layer, recorded in its info: a rerun with the same record resumes (finished
  // region-graph and relabelling blocks are skipped), another one needs --overwrite. The
  // supervoxel layer's own record is part of it, so re-made supervoxels never meet old graph blocks.
  // The block shape is not (the result does not depend on it; the scheduler drops the records of
  // another block shape by itself), but it sets the chunks unless the caller gives them.
  const record = JSON.parse(JSON.stringify({
    supervoxels: absoluteSpec(o.supervoxels),
    supervoxels_record: supervoxelRecord(o.supervoxels),
    boundaries: absoluteSpec(o.boundaries),
    ...ragParams,
    method: o.params.method ?? null,
    threshold: o.params.threshold ?? null,
    quantile: o.params.quantile ?? null,
    model: o.opts.model ? path.resolve(String(o.opts.model)) : null,
    anisotropic: o.params.anisotropic,
  })) as Record<string, unknown>;
  (info as unknown as Record<string, unknown>).wiring = { agglomeration: record };
  const dir = path.resolve(out);
  const stateDir = path.join(dir, '.wiring-run');
  if (existsSync(path.join(dir, 'info')) && !o.opts.overwrite) {
    const old = await PrecomputedLayer.open(dir);
    const was = JSON.stringify((old.info as unknown as { wiring?: { agglomeration?: unknown } }).wiring?.agglomeration ?? null);
    const s0 = old.info.scales[0];
    const n0 = info.scales[0];
    if (was !== JSON.stringify(record) || old.info.data_type !== 'uint64' || JSON.stringify([s0.size, s0.voxel_offset, s0.resolution]) !== JSON.stringify([n0.size, n0.voxel_offset, n0.resolution])) {
      throw new UsageError(`a layer exists here made from other inputs or settings (wiring.agglomeration in its info: ${was}; this run: ${JSON.stringify(record)}); pass --overwrite to replace it`, out);
    }
    if (JSON.stringify(s0.chunk_sizes) !== JSON.stringify(n0.chunk_sizes)) {
      throw new UsageError(`a layer exists here with chunks ${JSON.stringify(s0.chunk_sizes[0])}; --block ${block.join(',')} writes chunks ${JSON.stringify(n0.chunk_sizes[0])}: rerun with the old --block to resume, or pass --overwrite`, out);
    }
  } else {
    await PrecomputedLayer.create(dir, info, { overwrite: !!o.opts.overwrite });
    await fs.rm(stateDir, { recursive: true, force: true }); // a new layer: no resume records of another run
  }
  const layer = await PrecomputedLayer.open(dir);
  const run = schedulerOptions(o.opts, stateDir);
  const rep = await runTasks([ragTask({ supervoxels: o.supervoxels, boundaries: o.boundaries, bounds: svBox, blockShape: block, params: { ...ragParams, supervoxelsRecord: record.supervoxels_record } })], run);
  if (rep.failed.length) throw new UsageError(`${rep.failed.length} block(s) of the region graph failed; first: ${rep.failed[0].error}`, out);
  const { rag, ids } = mergeBlockRags((await readBlockData(stateDir, 'rag')).map((d) => d.data));
  const res = agglomerateRag(rag, o.params);
  const mapFile = path.join(stateDir, 'segment-map.bin');
  const mapHash = await writeSegmentMap(mapFile, ids, res.map);
  const rep2 = await runTasks([relabelTask({ supervoxels: o.supervoxels, out: layer.dir, mapFile, mapHash, bounds: svBox, blockShape: block })], run);
  if (rep2.failed.length) throw new UsageError(`${rep2.failed.length} block(s) of the relabelling failed; first: ${rep2.failed[0].error}`, out);
  const mergeTree = path.join(layer.dir, 'merge_tree.json');
  await writeJsonAtomic(mergeTree, mergeTreeJson(res.tree, ids, { method: res.method, threshold: res.threshold, supervoxels_source: o.supervoxels }));
  return { layer: out, method: res.method, threshold: res.threshold, supervoxels: rag.nNodes, edges: rag.nEdges, merges: res.tree.count, segments: res.count, blocks: rep2.blocks, resumed: rep.resumed + rep2.resumed, merge_tree: mergeTree };
}

/** The `wiring.supervoxels` record of a supervoxel layer made by `wiring supervoxels --block` (null for other sources). */
function supervoxelRecord(spec: string): unknown {
  const file = path.join(path.resolve(spec), 'info');
  if (spec.includes('#') || !existsSync(file)) return null;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { wiring?: { supervoxels?: unknown } }).wiring?.supervoxels ?? null;
  } catch {
    return null; // not a precomputed info: openSource has already read the source
  }
}
