/**
 * Scores against ground truth: node compartments and synapse compartments against a compartment
 * label layer (nodes and synapse points whose truth is 0 are left out). Per-compartment recall,
 * accuracy and balanced accuracy with the confusion matrix. `CompartmentScorer` accumulates
 * confusion counts batch by batch (memory: the matrices, not the nodes).
 */
import { COMPARTMENTS } from './compartments.js';
import type { CellAnnotation, LoadedCells } from './run.js';
import type { LabelSampler } from './truth.js';

export interface ClassScores {
  n: number;
  accuracy: number;
  balanced_accuracy: number;
  classes: string[];
  confusion: number[][];
  per_class_recall: Record<string, number>;
}

export interface CompartmentScores {
  nodes: ClassScores;
  synapses_post: ClassScores;
  synapses_pre: ClassScores;
}

const named = COMPARTMENTS.slice(1) as unknown as string[];
const K = named.length;

/** Scores of a confusion matrix (rows truth, columns prediction), classes = the named compartments. */
export function scoresFromConfusion(m: Float64Array): ClassScores {
  const confusion = Array.from({ length: K }, (_, t) => Array.from({ length: K }, (_, p) => m[t * K + p]));
  let n = 0, ok = 0;
  const recall: Record<string, number> = {};
  for (let t = 0; t < K; t++) {
    const row = confusion[t].reduce((a, b) => a + b, 0);
    n += row;
    ok += confusion[t][t];
    if (row > 0) recall[named[t]] = confusion[t][t] / row;
  }
  const r = Object.values(recall);
  return { n, accuracy: n ? ok / n : 0, balanced_accuracy: r.length ? r.reduce((a, b) => a + b, 0) / r.length : 0, classes: named, confusion, per_class_recall: recall };
}

export class CompartmentScorer {
  private readonly nodes = new Float64Array(K * K);
  private readonly post = new Float64Array(K * K);
  private readonly pre = new Float64Array(K * K);

  constructor(private readonly truth: LabelSampler) {}

  private static count(m: Float64Array, truth: number, pred: number): void {
    // truth 0 (no label) or out of range is left out; a prediction of unknown (0) is not a class here
    if (truth > 0 && truth < COMPARTMENTS.length && pred > 0) m[(truth - 1) * K + (pred - 1)]++;
  }

  /** Add a batch of annotated cells. */
  async add(loaded: LoadedCells, ann: Map<bigint, CellAnnotation>): Promise<void> {
    for (const c of loaded.cells) {
      const a = ann.get(c.id)!;
      const tn = await this.truth.sample(c.skeleton.vertices);
      for (let i = 0; i < tn.length; i++) CompartmentScorer.count(this.nodes, tn[i], a.compartment[i]);
      const ti = await this.truth.sample(c.synIn.positions);
      ti.forEach((v, k) => {
        if (a.org.attachIn[k] >= 0) CompartmentScorer.count(this.post, v, a.compartment[a.org.attachIn[k]]);
      });
      const to = await this.truth.sample(c.synOut.positions);
      to.forEach((v, k) => {
        if (a.org.attachOut[k] >= 0) CompartmentScorer.count(this.pre, v, a.compartment[a.org.attachOut[k]]);
      });
    }
  }

  scores(): CompartmentScores {
    return { nodes: scoresFromConfusion(this.nodes), synapses_post: scoresFromConfusion(this.post), synapses_pre: scoresFromConfusion(this.pre) };
  }
}

export async function scoreCompartments(loaded: LoadedCells, ann: Map<bigint, CellAnnotation>, truth: LabelSampler): Promise<CompartmentScores> {
  const s = new CompartmentScorer(truth);
  await s.add(loaded, ann);
  return s.scores();
}
