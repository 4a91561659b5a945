/**
 * A layer's provenance: the record under `info.wiring.<step>` of a precomputed layer that says what
 * made it (inputs, parameters, grid). `ensureLayer` is the one place a blockwise run decides to
 * resume or refuse: a layer whose record equals this run's resumes (the scheduler skips finished
 * blocks recorded in `<layer>/.wiring-run`), one with another record is refused unless the caller
 * overwrites, and a new layer is created with the record and no old resume records.
 * Spec of `info.wiring`: README.md beside this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { UsageError } from '../core/errors.js';
import { PrecomputedLayer, type PrecomputedInfo } from '../formats/precomputed/index.js';

/** The steps that record their provenance in a layer's `info.wiring`. */
export type ProvenanceStep = 'supervoxels' | 'agglomeration';

/**
 * `info.wiring` as Wiring writes it. Each key is written by one step; keys this build does not know
 * are kept as they are (they are not part of the provenance).
 */
export interface WiringInfo {
  /** `wiring supervoxels --block` (and `segment --block`): tile, margin, parameters, boundary source. */
  supervoxels?: ProvenanceRecord;
  /** `wiring agglomerate --block` (and `segment --block`): inputs (absolute), their records, parameters. */
  agglomeration?: ProvenanceRecord;
  /** `wiring predict` with a model carrying a calibrated cut: the agglomeration threshold to use on this map. */
  segment_threshold?: number;
}

/** A provenance record: plain JSON (what JSON.stringify keeps is what is compared). */
export type ProvenanceRecord = Record<string, unknown>;

/** The record normalised as it is stored (undefined fields dropped, numbers as JSON writes them). */
export function normaliseRecord<R extends object>(record: R): ProvenanceRecord {
  return JSON.parse(JSON.stringify(record)) as ProvenanceRecord;
}

/** The `info.wiring` of a parsed info (an empty object when it has none). */
export function wiringOf(info: PrecomputedInfo | Record<string, unknown>): WiringInfo {
  const w = (info as { wiring?: unknown }).wiring;
  return w !== null && typeof w === 'object' ? (w as WiringInfo) : {};
}

/** Sets `info.wiring[step] = record` (other keys of info.wiring kept). */
export function withProvenance(info: PrecomputedInfo, step: ProvenanceStep, record: ProvenanceRecord): PrecomputedInfo {
  const i = info as unknown as { wiring?: WiringInfo };
  i.wiring = { ...wiringOf(info), [step]: record };
  return info;
}

/**
 * The `info.wiring[step]` record of the layer a source spec names, or null (not a local
 * precomputed layer, no such record, or an info that is not JSON: the source's reader reports that).
 */
export function readProvenance(spec: string, step: ProvenanceStep): unknown {
  const file = path.join(path.resolve(spec), 'info');
  if (spec.includes('#') || !existsSync(file)) return null;
  try {
    return wiringOf(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)[step] ?? null;
  } catch {
    return null;
  }
}

export interface EnsureLayerOptions {
  /** Replace an existing layer whatever made it. */
  overwrite: boolean;
  /** Names the layer in errors (as the user gave it). */
  where: string;
  /** What differs when the records differ, for the error: e.g. 'with other supervoxel settings or grid'. */
  what: string;
  /**
   * How chunk sizes are compared: undefined = with the record and grid (one error); a message =
   * separately, after them, with this message (e.g. to say which option sets the chunks).
   */
  chunkMismatch?: (had: unknown, want: unknown) => string;
}

/**
 * Creates the layer at `dir` with `info` carrying `record` under `info.wiring[step]`, or resumes
 * into an existing one made with the same record, the same uint64 data type and the same grid
 * (size, offset, resolution; chunk sizes as `opts.chunkMismatch` says). Returns the resume-record
 * folder (`<dir>/.wiring-run`) and whether the layer was resumed.
 */
export async function ensureLayer(dir: string, info: PrecomputedInfo, step: ProvenanceStep, record: ProvenanceRecord, opts: EnsureLayerOptions): Promise<{ stateDir: string; resumed: boolean }> {
  withProvenance(info, step, record);
  const stateDir = path.join(dir, '.wiring-run');
  if (existsSync(path.join(dir, 'info')) && !opts.overwrite) {
    const old = await PrecomputedLayer.open(dir);
    const was = JSON.stringify(wiringOf(old.info)[step] ?? null);
    const now = JSON.stringify(record);
    const s0 = old.info.scales[0];
    const n0 = info.scales[0];
    const grid = (s: typeof s0) => JSON.stringify(opts.chunkMismatch ? [s.size, s.voxel_offset, s.resolution] : [s.size, s.voxel_offset, s.resolution, s.chunk_sizes]);
    if (was !== now || old.info.data_type !== info.data_type || grid(s0) !== grid(n0)) {
      throw new UsageError(`a layer exists here made ${opts.what} (wiring.${step} in its info: ${was}; this run: ${now}); pass --overwrite to replace it`, opts.where);
    }
    // sharded or not must agree (the shard size may differ: a resumed run writes the layer's own)
    if (!!s0.sharding !== !!n0.sharding) {
      throw new UsageError(`a layer exists here ${s0.sharding ? 'sharded' : 'unsharded'}; this run writes it ${n0.sharding ? 'sharded' : 'unsharded'} (--sharded / --no-sharded): rerun as before to resume, or pass --overwrite`, opts.where);
    }
    if (opts.chunkMismatch && JSON.stringify(s0.chunk_sizes) !== JSON.stringify(n0.chunk_sizes)) {
      throw new UsageError(opts.chunkMismatch(s0.chunk_sizes[0], n0.chunk_sizes[0]), opts.where);
    }
    return { stateDir, resumed: true };
  }
  await PrecomputedLayer.create(dir, info, { overwrite: opts.overwrite, writing: step });
  await rm(stateDir, { recursive: true, force: true }); // a new layer: no resume records of another run
  return { stateDir, resumed: false };
}
