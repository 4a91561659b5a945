/**
 * Synapse-level axon/dendrite accuracy against brain-region tags (e.g. hemibrain projection
 * neurons: a synapse in the antennal lobe is on the dendrite, one in the lateral horn or calyx on
 * the axon). The compartments are the rule-based ones (synapse flow split), so this scores the
 * label-free fallback on real neurons.
 */
import { C, RULE_DEFAULTS, type RuleParams, ruleCompartments } from './compartments.js';
import { type CellInput, EMPTY_POINTS, nodeOrganelles } from './organelles.js';
import type { Skeleton } from './tree.js';

export interface RoiSynapse {
  pre: boolean;
  /** nm */
  p: [number, number, number];
  roi: string;
}

export interface RoiScore {
  /** synapses with a region of known side */
  n: number;
  correct: number;
  accuracy: number;
  /** per side: [correct, total] */
  axon: [number, number];
  dendrite: [number, number];
}

/** `side(roi)` says where a region's synapses are ('axon' | 'dendrite'), undefined = not scored. */
export function roiAccuracy(sk: Skeleton, syn: RoiSynapse[], side: (roi: string) => 'axon' | 'dendrite' | undefined, rules: RuleParams = RULE_DEFAULTS): RoiScore {
  const pts = (want: boolean) => {
    const s = syn.filter((x) => x.pre === want);
    return { s, points: { positions: Float64Array.from(s.flatMap((x) => x.p)), size: new Float64Array(s.length).fill(1) } };
  };
  const pre = pts(true);
  const post = pts(false);
  const cell: CellInput = { id: 0n, skeleton: sk, synIn: post.points, synOut: pre.points, mito: EMPTY_POINTS, vesicle: EMPTY_POINTS };
  const org = nodeOrganelles(cell);
  const rule = ruleCompartments(sk, org.synOut, org.synIn, rules);
  const out: RoiScore = { n: 0, correct: 0, accuracy: 0, axon: [0, 0], dendrite: [0, 0] };
  const tally = (list: RoiSynapse[], attach: Int32Array) =>
    list.forEach((x, k) => {
      const want = side(x.roi);
      if (!want || attach[k] < 0) return;
      const c = rule.compartment[attach[k]];
      const got = c === C.axon ? 'axon' : c === C.dendrite || c === C.spineHead || c === C.spineNeck ? 'dendrite' : 'other';
      out.n++;
      out[want][1]++;
      if (got === want) {
        out.correct++;
        out[want][0]++;
      }
    });
  tally(pre.s, org.attachOut);
  tally(post.s, org.attachIn);
  out.accuracy = out.n ? out.correct / out.n : 0;
  return out;
}
