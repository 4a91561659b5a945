import { pathToFileURL } from 'node:url';
import { type Box, boxEquals, boxFromShape, boxIsEmpty, boxToString } from '../core/box.js';
import { WiringError } from '../core/errors.js';
import type { Volume } from '../core/volume.js';
import type { VolumeSource } from '../formats/source.js';
import { intersectAll, readBoxOf } from './blocks.js';
import { type OutputLayer, openInput, openOutputLayer } from './io.js';
import type { BlockFunction, BlockJob, BlockResult, TaskSpec } from './types.js';

/**
 * Run one block where this code runs (main thread, worker thread or BullMQ worker): open the
 * inputs (cached per worker), read them over the block grown by the margin, call the block
 * function, check its volumes and write them to the output layers. Volumes never cross a
 * thread or process boundary: each worker reads and writes its own blocks; only the small
 * `data` result travels back.
 */
interface TaskRuntime {
  fn: BlockFunction;
  inputs: Record<string, VolumeSource>;
  /**
   * Inputs that are channels of one multi-channel source (`map?channel=2`, `map?channel=4`, ...)
   * whose source reads several channels in one pass: read together, each chunk once per block.
   */
  channelGroups: Array<{ base: VolumeSource; names: string[]; channels: number[] }>;
  outputs: Record<string, OutputLayer>;
  clip: Box;
}

/** Groups of two or more inputs that are channels of the same source (by its url) and that it can read together. */
export function channelGroups(inputs: Record<string, VolumeSource>): TaskRuntime['channelGroups'] {
  const groups = new Map<string, { base: VolumeSource; names: string[]; channels: number[] }>();
  for (const [name, src] of Object.entries(inputs)) {
    const of = src.channelOf;
    if (!of || !of.base.readChannels) continue;
    let g = groups.get(of.base.url);
    if (!g) groups.set(of.base.url, (g = { base: of.base, names: [], channels: [] }));
    g.names.push(name);
    g.channels.push(of.channel);
  }
  return [...groups.values()].filter((g) => g.names.length > 1);
}

const runtimes = new Map<string, Promise<TaskRuntime>>();

function toUrl(module: string): string {
  return /^[a-z]+:/i.test(module) ? module : pathToFileURL(module).href;
}

async function loadRuntime(task: TaskSpec): Promise<TaskRuntime> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(toUrl(task.module))) as Record<string, unknown>;
  } catch (err) {
    throw new WiringError(`cannot load block function module: ${(err as Error).message}`, task.module, { cause: err });
  }
  const fn = mod[task.fn];
  if (typeof fn !== 'function') {
    throw new WiringError(`module does not export a block function named ${JSON.stringify(task.fn)}`, task.module);
  }
  const inputs: Record<string, VolumeSource> = {};
  for (const [name, spec] of Object.entries(task.inputs)) inputs[name] = await openInput(spec);
  const outputs: Record<string, OutputLayer> = {};
  for (const [name, o] of Object.entries(task.outputs)) outputs[name] = await openOutputLayer(o.layer);
  const clip =
    intersectAll(Object.values(inputs).map((s) => boxFromShape(s.shape, s.offset))) ?? task.bounds;
  return { fn: fn as BlockFunction, inputs, channelGroups: channelGroups(inputs), outputs, clip };
}

function runtimeOf(task: TaskSpec): Promise<TaskRuntime> {
  const key = `${task.name}\u0000${task.fingerprint}`;
  let r = runtimes.get(key);
  if (!r) {
    r = loadRuntime(task);
    runtimes.set(key, r);
    r.catch(() => runtimes.delete(key));
  }
  return r;
}

/** Forget cached modules, sources and layers (after a run in-process). */
export async function releaseRuntimes(): Promise<void> {
  const all = [...runtimes.values()];
  runtimes.clear();
  for (const r of all) {
    const rt = await r.catch(() => undefined);
    if (rt) for (const s of Object.values(rt.inputs)) await s.close().catch(() => {});
  }
}

export async function executeBlock(job: BlockJob): Promise<unknown> {
  const { task } = job;
  const where = `task ${task.name} block [${job.index}] (${boxToString(job.box)})`;
  const rt = await runtimeOf(task);
  const readBox = readBoxOf(job.box, task.margin, rt.clip);
  if (Object.keys(rt.inputs).length > 0 && boxIsEmpty(readBox)) {
    throw new WiringError('the block lies outside the inputs\' bounds', where);
  }
  const inputs: Record<string, Volume> = {};
  for (const g of rt.channelGroups) {
    const vols = await g.base.readChannels!(readBox, g.channels);
    g.names.forEach((name, k) => (inputs[name] = vols[k]));
  }
  for (const [name, src] of Object.entries(rt.inputs)) if (!(name in inputs)) inputs[name] = await src.read(readBox);
  let result: BlockResult;
  try {
    result = (await rt.fn({ box: job.box, readBox, inputs, params: task.params, blockIndex: job.index })) ?? {};
  } catch (err) {
    if (err instanceof Error) throw err;
    throw new WiringError(String(err), where);
  }
  const volumes = result.volumes ?? {};
  for (const name of Object.keys(volumes)) {
    if (!(name in rt.outputs)) {
      throw new WiringError(`returned a volume ${JSON.stringify(name)} that is not one of the task's outputs (${Object.keys(rt.outputs).join(', ') || 'none'})`, where);
    }
  }
  for (const [name, layer] of Object.entries(rt.outputs)) {
    const vol = volumes[name];
    if (!vol) throw new WiringError(`returned no volume for output ${JSON.stringify(name)}`, where);
    if (!boxEquals(vol.box, job.box)) {
      throw new WiringError(`output ${JSON.stringify(name)} covers ${boxToString(vol.box)}, expected exactly the block`, where);
    }
    if (vol.dtype !== layer.info.data_type || vol.channels !== layer.info.num_channels) {
      throw new WiringError(
        `output ${JSON.stringify(name)} is ${vol.dtype} x ${vol.channels}, layer ${layer.dir} is ${layer.info.data_type} x ${layer.info.num_channels}`,
        where,
      );
    }
  }
  for (const [name, layer] of Object.entries(rt.outputs)) await layer.writeBox(volumes[name], task.outputs[name].scale);
  return result.data;
}
