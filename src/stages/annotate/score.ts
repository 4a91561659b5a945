/**
 * Scores against ground truth: node compartments and synapse compartments against a compartment
 * label layer (nodes and synapse points whose truth is 0 are left out), cell types against known
 * types. Per-compartment recall, accuracy and balanced accuracy with the confusion matrix.
 */
import { classificationScores } from './classify.js';
import { COMPARTMENTS } from './compartments.js';
import type { CellAnnotation, LoadedCells } from './run.js';
import type { LabelSampler } from './truth.js';

export interface CompartmentScores {
  nodes: ReturnType<typeof classificationScores> & { n: number };
  synapses_post: ReturnType<typeof classificationScores> & { n: number };
  synapses_pre: ReturnType<typeof classificationScores> & { n: number };
}

const named = COMPARTMENTS.slice(1) as unknown as string[];

export async function scoreCompartments(loaded: LoadedCells, ann: Map<bigint, CellAnnotation>, truth: LabelSampler): Promise<CompartmentScores> {
  const t: string[] = [], p: string[] = [];
  const st: string[] = [], sp: string[] = [];
  const pt: string[] = [], pp: string[] = [];
  for (const c of loaded.cells) {
    const a = ann.get(c.id)!;
    const tn = await truth.sample(c.skeleton.vertices);
    for (let i = 0; i < tn.length; i++) if (tn[i] > 0 && tn[i] < COMPARTMENTS.length) {
      t.push(COMPARTMENTS[tn[i]]);
      p.push(COMPARTMENTS[a.compartment[i]]);
    }
    const ti = await truth.sample(c.synIn.positions);
    ti.forEach((v, k) => {
      if (v > 0 && v < COMPARTMENTS.length && a.org.attachIn[k] >= 0) {
        st.push(COMPARTMENTS[v]);
        sp.push(COMPARTMENTS[a.compartment[a.org.attachIn[k]]]);
      }
    });
    const to = await truth.sample(c.synOut.positions);
    to.forEach((v, k) => {
      if (v > 0 && v < COMPARTMENTS.length && a.org.attachOut[k] >= 0) {
        pt.push(COMPARTMENTS[v]);
        pp.push(COMPARTMENTS[a.compartment[a.org.attachOut[k]]]);
      }
    });
  }
  return {
    nodes: { n: t.length, ...classificationScores(t, p, named) },
    synapses_post: { n: st.length, ...classificationScores(st, sp, named) },
    synapses_pre: { n: pt.length, ...classificationScores(pt, pp, named) },
  };
}
