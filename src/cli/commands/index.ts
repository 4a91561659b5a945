import type { Command } from 'commander';
import { register as agglomerate } from './agglomerate.js';
import { register as analyse } from './analyse.js';
import { register as cells } from './cells.js';
import { register as classes } from './classes.js';
import { register as connectome } from './connectome.js';
import { register as demo } from './demo.js';
import { register as downsample } from './downsample.js';
import { register as evaluate } from './evaluate.js';
import { register as exportLayer } from './export.js';
import { register as importVolume } from './import.js';
import { register as info } from './info.js';
import { register as mesh } from './mesh.js';
import { register as phantom } from './phantom.js';
import { register as predict } from './predict.js';
import { register as query } from './query.js';
import { register as run } from './run.js';
import { register as segment } from './segment.js';
import { register as serve } from './serve.js';
import { register as skeletonStats } from './skeleton-stats.js';
import { register as skeletonize } from './skeletonize.js';
import { register as supervoxels } from './supervoxels.js';
import { register as trainAgglomeration } from './train-agglomeration.js';
import { register as synapses } from './synapses.js';
import { register as trainPixels } from './train-pixels.js';
import { register as worker } from './worker.js';

/** Each command module exports a `register(program)` that adds its subcommand and returns it. */
export type RegisterCommand = (program: Command) => Command;

// One line per command; keep alphabetical.
export const commands: RegisterCommand[] = [
  agglomerate,
  analyse,
  cells,
  classes,
  connectome,
  demo,
  downsample,
  evaluate,
  exportLayer,
  importVolume,
  info,
  mesh,
  phantom,
  predict,
  query,
  run,
  segment,
  serve,
  skeletonStats,
  skeletonize,
  supervoxels,
  trainAgglomeration,
  synapses,
  trainPixels,
  worker,
];
