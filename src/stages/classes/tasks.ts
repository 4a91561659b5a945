import type { Box, Vec3 } from '../../core/box.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import { classLabels } from './classes.js';

export interface ClassLayers {
  neurons: string;
  clefts?: string;
  vesicles?: string;
  mitochondria?: string;
}

/** Block function: class labels of one block (inputs read with a 1-voxel margin). */
export function classesBlock(ctx: BlockContext<Record<string, never>>): BlockResult {
  const { neurons, clefts, vesicles, mitochondria } = ctx.inputs;
  return { volumes: { out: classLabels({ neurons, clefts, vesicles, mitochondria }, ctx.box) } };
}

export function classesTask(layers: ClassLayers, out: string, bounds: Box, blockShape: Vec3): BlockTask<Record<string, never>> {
  const inputs: Record<string, string> = { neurons: layers.neurons };
  if (layers.clefts) inputs.clefts = layers.clefts;
  if (layers.vesicles) inputs.vesicles = layers.vesicles;
  if (layers.mitochondria) inputs.mitochondria = layers.mitochondria;
  return {
    name: 'classes',
    module: import.meta.url,
    fn: 'classesBlock',
    params: {},
    inputs,
    outputs: { out: { layer: out } },
    bounds,
    blockShape,
    margin: [1, 1, 1],
  };
}
