/** The synapse filter options shared by `query` and `analyse`. */
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import type { SynapseQuery } from '../connectome/query.js';

/** A comma-separated list option (empty items dropped). */
export const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== ''));

/** Options shared by `query` and `analyse`: which synapses count. */
export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--version <n>', 'read a materialized version')
    .option('--exclude-self', 'leave out self-synapses (pre = post)')
    .option('--exclude-unassigned', 'leave out synapses with an unknown partner (root id 0)')
    .option('--pre-proofread <statuses>', 'presynaptic cells whose status_axon is one of these (e.g. clean,extended)')
    .option('--post-proofread <statuses>', 'postsynaptic cells whose status_dendrite is one of these')
    .option('--compartment <tags>', 'synapses tagged with one of these target compartments (e.g. spine,shaft,soma)')
    .option('--synapse-type <t>', 'synapse_type (chemical / electrical for edge lists)');
}

export function filterFrom(opts: Record<string, string | boolean | undefined>): SynapseQuery {
  const v = opts.version as string | undefined;
  if (v !== undefined && !/^\d+$/.test(v)) throw new UsageError(`--version ${JSON.stringify(v)} must be a whole number`);
  return {
    version: v === undefined ? undefined : Number(v),
    excludeSelf: !!opts.excludeSelf,
    excludeUnassigned: !!opts.excludeUnassigned,
    preProofread: list(opts.preProofread as string | undefined),
    postProofread: list(opts.postProofread as string | undefined),
    compartments: list(opts.compartment as string | undefined),
    synapseType: opts.synapseType as string | undefined,
  };
}
