/** Scoring synapse detections against ground-truth partners (used by `synapses --ground-truth` and the demo). */
import { existsSync } from 'node:fs';
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import type { Volume } from '../core/volume.js';
import { ConnectomeStore } from '../connectome/store.js';
import { relabelPartners, synapticPartnerScore, type PartnerSynapse } from '../metrics/synapses.js';
import type { SynapseScorer } from '../stages/synapses/tune.js';

/** Score detections against ground-truth partners (relabelled to the truth's segmentation at their points when given). */
export function partnerScorer(gt: PartnerSynapse[], gtSeg: Volume | undefined, maxDistance: number): SynapseScorer {
  return (syn) => {
    let pred: PartnerSynapse[] = syn.map((s) => ({ pre_id: s.pre_pt_root_id, post_id: s.post_pt_root_id, pre: s.pre_pt_position, post: s.post_pt_position }));
    if (gtSeg) pred = relabelPartners(pred, gtSeg);
    return synapticPartnerScore(pred, gt, { maxDistance });
  };
}

/** The synapses table of a connectome database as (pre, post) partners with their points. */
export async function partnersOf(db: string, withCentre = false): Promise<(PartnerSynapse & { ctr?: Vec3 })[]> {
  if (!existsSync(db)) throw new UsageError('ground-truth database not found', db);
  const s = await ConnectomeStore.open(db);
  try {
    const ctr = withCentre ? ', ctr_pt_position_x AS g, ctr_pt_position_y AS h, ctr_pt_position_z AS k' : '';
    const rows = await s.all(`SELECT pre_pt_root_id, post_pt_root_id, pre_pt_position_x AS a, pre_pt_position_y AS b, pre_pt_position_z AS c, post_pt_position_x AS d, post_pt_position_y AS e, post_pt_position_z AS f${ctr} FROM synapses ORDER BY id`);
    return rows.map((r) => ({
      pre_id: r.pre_pt_root_id as bigint,
      post_id: r.post_pt_root_id as bigint,
      pre: [r.a as number, r.b as number, r.c as number],
      post: [r.d as number, r.e as number, r.f as number],
      ...(withCentre ? { ctr: [r.g as number, r.h as number, r.k as number] as Vec3 } : {}),
    }));
  } finally {
    await s.close();
  }
}
