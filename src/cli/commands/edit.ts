import type { Command } from 'commander';
import { boxFromShape, parseVec3 } from '../../core/box.js';
import { compactLabels } from '../../kernels/components.js';
import { openSource } from '../../formats/open.js';
import { ORACLE_DEFAULTS, runOracle } from '../../stages/proofread/oracle.js';
import { UsageError } from '../../core/errors.js';
import { parseId } from '../../core/ids.js';
import { parseAt } from '../at-option.js';
import { initProofread, materializeVersion, Proofread } from '../../stages/proofread/io.js';
import { addShardingOption, shardingChoice } from '../sharding-options.js';
import { PROOFREAD_DEFAULTS } from '../../stages/proofread/base.js';
import type { EditRecord } from '../../stages/proofread/record.js';
import { emit } from '../output.js';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ConnectomeStore } from '../../connectome/store.js';
import { mergeLiveProofreading, synapsePoints } from '../../connectome/proofread-versions.js';
import { statusRows } from '../proofread-materialize.js';
import type { SynapseInput } from '../../stages/proofread/io.js';
import type { EditRequest } from '../../stages/proofread/state.js';
import { syncDerived } from '../proofread-derive.js';
import { precomputeStart } from '../proofread-precompute.js';

/** A supervoxel given as an id, or a point "x,y,z" in nm (the supervoxel under it). */
async function supervoxel(p: Proofread, text: string, what: string): Promise<bigint> {
  if (text.includes(',')) return p.supervoxelAt(parseVec3(text, what));
  return parseId(text, what);
}

const user = (opts: { user?: string }): string => opts.user ?? process.env.WIRING_USER ?? process.env.USER ?? PROOFREAD_DEFAULTS.user;

function describe(r: EditRecord): string {
  return `op ${r.op} ${r.kind}${r.target ? ` of op ${r.target}` : ''}: retired ${r.retired.join(', ')} -> new ${r.created.map((c) => c.id).join(', ')}`;
}

/**
 * A seeded crash point for tests (WIRING_PROOFREAD_CRASH = mid-append | after-append | mid-derive):
 * the process kills itself with SIGKILL there, as a power cut would.
 */
function crashAt(point: string): void {
  if (process.env.WIRING_PROOFREAD_CRASH === point) {
    process.stderr.write(`crash point ${point}: SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
const crashHook = process.env.WIRING_PROOFREAD_CRASH ? crashAt : undefined;

/** Edit, then recompute the touched cells' derived data (and any left behind by a crash). */
async function editAndDerive(p: Proofread, req: EditRequest, o: { user: string; inputs?: Record<string, unknown>; derive: boolean }): Promise<EditRecord & { derived?: string[]; derived_details?: unknown[] }> {
  const r = await p.edit(req, { user: o.user, inputs: o.inputs, crash: process.env.WIRING_PROOFREAD_CRASH === 'mid-append' ? crashAt : undefined });
  crashHook?.('after-append');
  if (!o.derive) return r;
  const d = await syncDerived(p, crashHook);
  return { ...r, derived: d.roots, derived_details: d.details };
}

async function withProofread<T>(dataset: string, fn: (p: Proofread) => Promise<T>): Promise<T> {
  const p = await Proofread.open(dataset);
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

export function register(program: Command): Command {
  const cmd = program.command('edit').description('proofread a segmentation: merge, split (minimum cut), undo, redo; every edit is one line of <dataset>/proofread/edits.jsonl');
  cmd
    .command('init')
    .description('start proofreading: the supervoxels, their contacts (weighted by the boundary map) and the starting segmentation (the agglomeration\'s cut)')
    .argument('<dataset>', 'dataset folder (proofread/ is written in it)')
    .requiredOption('--supervoxels <source>', 'supervoxel layer (any readable label volume)')
    .requiredOption('--segmentation <source>', 'the agglomerated segmentation on the same grid (its segment ids are the starting root ids)')
    .option('--boundaries <source>', 'boundary probability map (0-1, or uint8 0-255) weighting contacts for splits')
    .option('--db <file>', 'connectome database whose synapses get supervoxel ids (default <dataset>/connectome.duckdb when present)')
    .option('--invert', 'the boundary map is high inside cells, low on membranes (raw EM): use 1 - value')
    .option('--overwrite', 'replace an existing proofread segmentation and its edit log')
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, opts) => {
      const db: string | undefined = opts.db ?? (existsSync(path.join(dataset, 'connectome.duckdb')) ? path.join(dataset, 'connectome.duckdb') : undefined);
      let synapses: SynapseInput[] | undefined;
      if (db) {
        if (!existsSync(db)) throw new UsageError('database file not found', db);
        const store = await ConnectomeStore.open(db, { readOnly: true });
        try {
          synapses = await synapsePoints(store);
        } finally {
          await store.close();
        }
      }
      const r = await initProofread(dataset, { supervoxels: opts.supervoxels, segmentation: opts.segmentation, boundaries: opts.boundaries, invert: !!opts.invert, overwrite: !!opts.overwrite, synapses });
      const out = { ...r, synapses: synapses?.length ?? 0 };
      emit(opts, out, () => `${r.dir}: ${r.supervoxels} supervoxels, ${r.edges} contact edges, ${r.roots} starting roots${synapses ? `, ${synapses.length} synapses from ${db}` : ''}`);
    });
  const editCmd = (name: string, desc: string) =>
    cmd.command(name).description(desc).argument('<dataset>', 'dataset folder').option('--user <name>', 'who edits (default $WIRING_USER or $USER)').option('--no-derive', 'do not recompute the touched cells\' mesh, skeleton, cells row and partners (wiring edit repair does it later)').option('--json', 'machine-readable output');
  editCmd('merge', 'join the roots of two supervoxels (ids, or points x,y,z in nm)')
    .argument('<a>', 'supervoxel id or point x,y,z nm')
    .argument('<b>', 'supervoxel id or point x,y,z nm')
    .option('--roots <a,b>', 'the root ids you saw at a and b (refused when stale)')
    .action(async (dataset: string, a: string, b: string, opts) => {
      const r = await withProofread(dataset, async (p) => {
        const roots = opts.roots ? (String(opts.roots).split(',').map((x, i) => parseId(x, `--roots[${i}]`)) as [bigint, bigint]) : undefined;
        if (roots && roots.length !== 2) throw new UsageError('--roots: expected two root ids a,b');
        return editAndDerive(p, { kind: 'merge', a: await supervoxel(p, a, 'a'), b: await supervoxel(p, b, 'b'), roots }, { user: user(opts), inputs: { points: [a, b] }, derive: opts.derive !== false });
      });
      emit(opts, r, () => describe(r));
    });
  editCmd('split', `cut one root between source and sink supervoxels (ids or points x,y,z nm) by a minimum cut on its contacts within ${PROOFREAD_DEFAULTS.splitMargin} voxels of their bounding box (the margin doubles until the cut separates them in the whole root)`)
    .requiredOption('--source <s...>', 'source supervoxel ids or points')
    .requiredOption('--sink <s...>', 'sink supervoxel ids or points')
    .option('--root <id>', 'the root id you saw (refused when stale)')
    .action(async (dataset: string, opts) => {
      const r = await withProofread(dataset, async (p) => {
        const sources = await Promise.all((opts.source as string[]).map((s, i) => supervoxel(p, s, `--source[${i}]`)));
        const sinks = await Promise.all((opts.sink as string[]).map((s, i) => supervoxel(p, s, `--sink[${i}]`)));
        return editAndDerive(p, { kind: 'split', sources, sinks, root: opts.root ? parseId(opts.root, '--root') : undefined }, { user: user(opts), inputs: { points: { sources: opts.source, sinks: opts.sink } }, derive: opts.derive !== false });
      });
      emit(opts, r, () => describe(r));
    });
  for (const kind of ['undo', 'redo'] as const) {
    editCmd(kind, `${kind} an earlier operation (a new operation; the log is never rewritten)`)
      .argument('<op>', 'operation id')
      .action(async (dataset: string, op: string, opts) => {
        if (!/^\d+$/.test(op)) throw new UsageError(`<op> ${JSON.stringify(op)}: expected an operation id`);
        const r = await withProofread(dataset, (p) => editAndDerive(p, { kind, op: Number(op) }, { user: user(opts), derive: opts.derive !== false }));
        emit(opts, r, () => describe(r));
      });
  }
  cmd
    .command('status')
    .description(`a cell's proofreading status (status_axon, status_dendrite: ${PROOFREAD_DEFAULTS.statuses.join(', ')}): set it with --axon/--dendrite, else list the statuses of a version's roots`)
    .argument('<dataset>', 'dataset folder')
    .argument('[root]', 'root id (required to set; filters the list)')
    .option('--axon <status>', `set status_axon (${PROOFREAD_DEFAULTS.statuses.join(', ')})`)
    .option('--dendrite <status>', `set status_dendrite (${PROOFREAD_DEFAULTS.statuses.join(', ')})`)
    .option('--at <op|time>', 'list as of an operation id or ISO-8601 time (default: the latest)')
    .option('--user <name>', 'who sets it (default $WIRING_USER or $USER)')
    .option('--to-store <db>', 'write the statuses of the version (--at, default the latest) into this connectome database\'s live proofreading table (each replaces its root\'s row), so wiring query --pre-proofread/--post-proofread sees them')
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, root: string | undefined, opts) => {
      if (opts.toStore !== undefined) {
        if (opts.axon !== undefined || opts.dendrite !== undefined) throw new UsageError('status: --to-store writes the statuses already set; set them first, then write them');
        const db = String(opts.toStore);
        if (!existsSync(db)) throw new UsageError('database file not found', db);
        const r = await withProofread(dataset, async (p) => {
          const state = await p.version(parseAt(opts.at));
          const rows = (await statusRows(p, state)).filter((c) => root === undefined || c.pt_root_id === parseId(root, '<root>'));
          const store = await ConnectomeStore.open(db);
          try {
            return { op: state.op, database: db, ...(await mergeLiveProofreading(store, rows)) };
          } finally {
            await store.close();
          }
        });
        emit(opts, r, () => `${db}: ${r.rows} statuses of version op ${r.op} written into proofreading (${r.replaced} rows replaced)`);
        return;
      }
      if (opts.axon !== undefined || opts.dendrite !== undefined) {
        if (root === undefined) throw new UsageError('status: give the root id whose status to set');
        if (opts.at !== undefined) throw new UsageError('status: --at lists an earlier version; a status is set on the latest');
        const r = await withProofread(dataset, (p) => p.setStatus(parseId(root, '<root>'), { status_axon: opts.axon, status_dendrite: opts.dendrite }, { user: user(opts) }));
        emit(opts, r, () => `root ${r.root}: ${r.status_axon ? `axon ${r.status_axon}` : ''}${r.status_axon && r.status_dendrite ? ', ' : ''}${r.status_dendrite ? `dendrite ${r.status_dendrite}` : ''} (as of op ${r.op})`);
        return;
      }
      const r = await withProofread(dataset, async (p) => {
        const state = await p.version(parseAt(opts.at));
        const id = root === undefined ? undefined : parseId(root, '<root>').toString();
        return { op: state.op, statuses: (await p.statuses(state)).filter((c) => id === undefined || c.root === id) };
      });
      emit(opts, r, () => [`root\tstatus_axon\tstatus_dendrite\tset by\ttime (version op ${r.op})`, ...r.statuses.map((c) => `${c.root}\t${c.status_axon ?? '-'}\t${c.status_dendrite ?? '-'}\t${c.user}\t${c.time}`)].join('\n'));
    });
  cmd
    .command('repair')
    .description('bring the derived data (proofread/head: meshes, skeletons, cells rows, partners of touched cells) up to the edit log, e.g. after a crash')
    .argument('<dataset>', 'dataset folder')
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, opts) => {
      const r = await withProofread(dataset, (p) => syncDerived(p));
      emit(opts, r, () => (r.from === r.to ? `derived data is up to date (op ${r.to})` : `derived ops ${r.from + 1}..${r.to}: ${r.roots.length} roots recomputed`));
    });
  cmd
    .command('precompute')
    .description('derive every starting root\'s mesh fragments and manifest (and, given the skeleton stage\'s output, its skeleton with the supervoxel under each vertex) under proofread/head, once, so edits reuse them as parents; resumes a killed run')
    .argument('<dataset>', 'dataset folder')
    .option('--skeletons <dir>', 'precomputed skeletons of the starting segmentation (wiring skeletonize writes <segmentation>/skeletons); without it a start root\'s first edit runs TEASAR over the root')
    .option('--force', 'redo a finished precompute')
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, opts) => {
      const r = await withProofread(dataset, (p) => precomputeStart(p, { skeletons: opts.skeletons, force: !!opts.force, crash: crashHook }));
      emit(opts, r, () => `${r.meshes} start roots meshed (${r.fragments} fragments, ${r.fragments_written} written), ${r.skeletons} skeletons (${r.skeleton_vertices} vertices, ${r.vertices_off_root} off their root); ${r.cpu_s} CPU s, ${r.mvox_per_cpu_s} Mvox per CPU s${r.slabs_resumed ? `; ${r.slabs_resumed} of ${r.slabs} slabs resumed` : ''}`);
    });
  const materialize = cmd
    .command('materialize')
    .description('write the segmentation (precomputed) and cells.csv as of an operation or time: the same bytes every time')
    .argument('<dataset>', 'dataset folder')
    .argument('<out>', 'output folder')
    .option('--at <op|time>', 'operation id or ISO-8601 time (default: the latest)')
    .option('--json', 'machine-readable output');
  addShardingOption(materialize).action(async (dataset: string, out: string, opts) => {
    const r = await withProofread(dataset, (p) => materializeVersion(p, parseAt(opts.at), out, shardingChoice(opts)));
    emit(opts, r, () => `${out}: version as of op ${r.op}, ${r.roots} roots`);
  });
  cmd
    .command('oracle')
    .description('a scripted proofreader that sees ground truth (merges the two largest roots of one true cell, splits the worst merge): VOI after N edits, in memory (the log is not written)')
    .argument('<dataset>', 'dataset folder (with proofread/)')
    .requiredOption('--gt <source>', 'true cells on the supervoxels\' grid (0 = unlabelled)')
    .option('--at <n,...>', 'edit counts to score', '0,10,50,100')
    .option('--points <n>', 'source/sink supervoxels per side of a split', String(ORACLE_DEFAULTS.pointsPerSide))
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, opts) => {
      const at = String(opts.at).split(',').map((x) => Number(x));
      if (at.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError(`--at ${opts.at}: expected whole numbers`);
      const r = await withProofread(dataset, async (p) => {
        const [svVol, gtVol] = await Promise.all([readVolume(p.meta.inputs.supervoxels), readVolume(opts.gt)]);
        if (svVol.data.length !== gtVol.data.length) throw new UsageError(`${opts.gt} has ${gtVol.data.length} voxels, the supervoxels ${svVol.data.length}: they must share one grid`);
        const dense = compactLabels(svVol.data as any);
        const state = await p.version({ op: 0 });
        return runOracle(state, dense.labels, dense.ids, gtVol.data as any, at, { pointsPerSide: Number(opts.points) });
      });
      emit(opts, r, () => [`edits  voi_split  voi_merge  voi     roots`, ...r.steps.map((s) => `${String(s.edits).padStart(5)}  ${s.voi_split.toFixed(4)}     ${s.voi_merge.toFixed(4)}     ${s.voi.toFixed(4)}  ${s.roots}`), `merges ${r.kinds.merge}, splits ${r.kinds.split}, refused ${r.refused}, merges inside supervoxels (unfixable) ${r.unfixable}`].join('\n'));
    });
  return cmd;
}

async function readVolume(spec: string) {
  const src = await openSource(spec);
  try {
    return await src.read(boxFromShape(src.shape, src.offset));
  } finally {
    await src.close();
  }
}
