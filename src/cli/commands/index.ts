import type { Command } from 'commander';

/** Each command module exports a `register(program)` that adds its subcommand and returns it. */
export type RegisterCommand = (program: Command) => Command;

export interface CommandEntry {
  /** One line for `wiring --help`; the module's own description is shown by `wiring <name> --help`. */
  summary: string;
  /** Loads the command's module. Modules are loaded only when their command runs, so that a
   * command does not pay for the start-up of libraries it never uses (DuckDB, sharp, h5wasm, bullmq). */
  load: () => Promise<{ register: RegisterCommand }>;
}

// One entry per command; keep alphabetical.
export const commands: Record<string, CommandEntry> = {
  agglomerate: { summary: 'merge supervoxels into segments (mean/quantile/learned/mutex), keeping the merge tree', load: () => import('./agglomerate.js') },
  align: { summary: 'align serial sections (affine + elastic spring mesh), render blockwise, quality report; --apply transforms to labels', load: () => import('./align.js') },
  analyse: { summary: 'connectome analyses: pair histogram, motifs vs null, connection probability vs distance, sizes', load: () => import('./analyse.js') },
  annotate: { summary: 'organelles, compartments per skeleton node, synapse compartments and cell types', load: () => import('./annotate.js') },
  cells: { summary: 'the cells table of a segmentation (volume, anchor point)', load: () => import('./cells.js') },
  classes: { summary: 'semantic training labels from instance ground truth', load: () => import('./classes.js') },
  connectome: { summary: 'the connectome database: import (CAVE, edge lists, SWC), export, materialize, info', load: () => import('./connectome.js') },
  coregister: { summary: 'landmark coregistration (affine, thin-plate spline) of light microscopy to EM, with leave-one-out residuals', load: () => import('./coregister.js') },
  demo: { summary: 'the whole pipeline on a synthetic phantom, scored, then served in the browser', load: () => import('./demo.js') },
  downsample: { summary: 'add a multiscale pyramid to a layer (mean for images, mode for labels)', load: () => import('./downsample.js') },
  edit: { summary: 'proofread: merge, split (minimum cut), undo, redo, materialize a version', load: () => import('./edit.js') },
  edits: { summary: 'the proofreading edit log, filtered by cell, user, time', load: () => import('./edits.js') },
  evaluate: { summary: 'score a segmentation against ground truth (VOI split/merge, adapted Rand)', load: () => import('./evaluate.js') },
  export: { summary: 'export a precomputed layer to .npy, file.h5#name, .zarr (v3 or --zarr-format 2), multi-page .tif or PNG slices', load: () => import('./export.js') },
  function: { summary: 'functional and other CAVE annotation tables kept whole; structure–function analyses (like-to-like with a distance-matched null)', load: () => import('./function.js') },
  import: { summary: 'import a volume (PNG/TIFF, HDF5, Zarr/OME-Zarr, NPY, precomputed) as a precomputed layer', load: () => import('./import.js') },
  info: { summary: 'describe a layer or volume: type, data type, size, voxel size, scales, chunks, encoding', load: () => import('./info.js') },
  lineage: { summary: 'a root id\'s history: latest roots, past ids, operations, lineage graph', load: () => import('./lineage.js') },
  mesh: { summary: 'meshes of every segment (Neuroglancer multi-resolution Draco or legacy; PLY/OBJ)', load: () => import('./mesh.js') },
  phantom: { summary: 'synthetic EM neuropil with full ground truth, at any size', load: () => import('./phantom.js') },
  predict: { summary: 'per-voxel maps from a random-forest pixel classifier or an ONNX network', load: () => import('./predict.js') },
  query: { summary: 'query a connectome: synapses, inputs/outputs, connections, type matrices, cells', load: () => import('./query.js') },
  report: { summary: 'run a named set of analyses (course, function) and write an HTML page with tables and figures', load: () => import('./report.js') },
  run: { summary: 'run the pipeline on your own volume from a JSON config', load: () => import('./run.js') },
  segment: { summary: 'boundary or affinity map -> supervoxels -> agglomerated segmentation', load: () => import('./segment.js') },
  serve: { summary: 'serve a dataset: layers, connectome API (/openapi.json) and the browser app', load: () => import('./serve.js') },
  'skeleton-stats': { summary: 'skeleton statistics (nodes, cable length, branch and end points; axon/dendrite split)', load: () => import('./skeleton-stats.js') },
  skeletonize: { summary: 'TEASAR skeletons with radii of every segment', load: () => import('./skeletonize.js') },
  supervoxels: { summary: 'watershed supervoxels from a boundary or affinity map, blockwise', load: () => import('./supervoxels.js') },
  synapses: { summary: 'detect synapses and organelles into a connectome database', load: () => import('./synapses.js') },
  'train-agglomeration': { summary: 'train the learned agglomeration (edge classifier) against ground truth', load: () => import('./train-agglomeration.js') },
  'train-cell-types': { summary: 'train the cell-type classifier from labelled cells (cross-validated)', load: () => import('./train-cell-types.js') },
  'train-compartments': { summary: 'train the node compartment classifier from labelled nodes or a truth layer', load: () => import('./train-compartments.js') },
  'train-pixels': { summary: 'train a random-forest pixel classifier from labels or a segmentation', load: () => import('./train-pixels.js') },
  worker: { summary: 'join a distributed run as a worker (BullMQ on Redis)', load: () => import('./worker.js') },
};
