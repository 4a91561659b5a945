import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { writeAnnotateRows, writeCellTypes } from '../../connectome/annotate-tables.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { classificationScores } from '../../stages/annotate/classify.js';
import { LabelSampler } from '../../stages/annotate/truth.js';
import { ANNOTATE_DEFAULTS, annotateDataset, skeletonSource } from '../../stages/annotate/run.js';
import { positive, readModelFile, ruleOptions, rulesFrom } from '../annotate-options.js';
import { emit } from '../output.js';

function scoreText(s: Record<string, unknown>): string {
  const out: string[] = [];
  for (const [k, v] of Object.entries(s)) {
    if (!v) continue;
    const r = v as { n: number; accuracy: number; balanced_accuracy: number; per_class_recall: Record<string, number> };
    out.push(`${k}: n ${r.n}, accuracy ${r.accuracy.toFixed(3)}, balanced accuracy ${r.balanced_accuracy.toFixed(3)}; recall ${Object.entries(r.per_class_recall).map(([c, x]) => `${c} ${x.toFixed(3)}`).join(', ')}`);
  }
  return out.join('\n');
}

export function register(program: Command): Command {
  const cmd = program
    .command('annotate')
    .description(
      'annotate cells: organelles and synapses per skeleton node and per cell, a compartment per node (rules, or --compartment-model), pre/post compartments of every synapse, and cell types (--cell-type-model); writes tables skeleton_nodes, cell_annotations, synapse_compartments (+ compartment_tags, cells.cell_type) and <layer>/skeletons_annotated with a compartment vertex attribute',
    )
    .argument('<skeletons>', 'segmentation layer with skeletons (wiring skeletonize), or a skeleton folder')
    .argument('<db>', 'connectome database (synapses, organelles, cells)')
    .option('--compartment-model <file>', 'a model from wiring train-compartments (default: rules only)')
    .option('--cell-type-model <file>', 'a model from wiring train-cell-types')
    .option('--cells <ids>', 'only these cells (comma-separated ids)')
    .option('--batch-cells <n>', 'cells read, annotated and written together (memory follows this)', String(ANNOTATE_DEFAULTS.batchCells))
    .option('--truth <layer>', 'also score node and synapse compartments against this compartment label layer (e.g. a phantom\'s compartments/), and predicted cell types against the cells table\'s types of the model\'s classification system');
  ruleOptions(cmd).option('--json', 'machine-readable output');
  return cmd.action(async (skeletons: string, db: string, opts) => {
    const { radiusNm, rules } = rulesFrom(opts);
    const compartmentModel = opts.compartmentModel ? await readModelFile(opts.compartmentModel, 'compartments') : undefined;
    const cellTypeModel = opts.cellTypeModel ? await readModelFile(opts.cellTypeModel, 'cell-types') : undefined;
    const ids = opts.cells ? String(opts.cells).split(',').map((s: string) => {
      if (!/^\d+$/.test(s.trim())) throw new UsageError(`--cells: ${JSON.stringify(s)} is not an id`);
      return BigInt(s.trim());
    }) : undefined;
    const src = await skeletonSource(skeletons);
    const store = await ConnectomeStore.open(db);
    let res;
    let scores: Record<string, unknown> | undefined;
    try {
      res = await annotateDataset(src, store, {
        radiusNm,
        rules,
        compartmentModel,
        cellTypeModel,
        ids,
        batchCells: positive(opts.batchCells, '--batch-cells'),
        truth: opts.truth ? await LabelSampler.open(opts.truth) : undefined,
        writeTables: (t, rows) => writeAnnotateRows(store, t, rows),
        writeCellTypes: (rows) => writeCellTypes(store, rows),
      });
      if (opts.truth) {
        const sc = res.scores!;
        const typeScores: Record<string, unknown> = {};
        if (cellTypeModel) {
          // all cells, cells with >= 10 µm of cable and cells with a synapse (fragments without
          // either carry little type information)
          for (const [k, where] of [['cell_types', 'TRUE'], ['cell_types_10um', 'a.cable_length_um >= 10'], ['cell_types_with_synapses', 'a.syn_in + a.syn_out >= 1']] as const) {
            const rows = await store.all(
              `SELECT a.cell_type AS p, c.cell_type AS t FROM cell_annotations a JOIN cells c USING (pt_root_id) WHERE c.cell_type IS NOT NULL AND c.classification_system IS NOT DISTINCT FROM $s AND a.cell_type IS NOT NULL AND ${where}`,
              { s: cellTypeModel.classification_system ?? null },
            );
            typeScores[k] = { n: rows.length, ...classificationScores(rows.map((r) => String(r.t)), rows.map((r) => String(r.p)), cellTypeModel.classes) };
          }
        }
        scores = { ...sc, ...typeScores };
      }
    } finally {
      await store.close();
    }
    const { scores: _s, ...out } = res;
    emit(opts, { ...out, scores, compartments_from: compartmentModel ? opts.compartmentModel : 'rules' }, () =>
      [
        `annotated ${out.cells} cells, ${out.nodes} nodes, ${out.synapse_sides.pre} pre and ${out.synapse_sides.post} post synapse sides (compartments from ${compartmentModel ? opts.compartmentModel : 'rules'})`,
        `nodes per compartment: ${Object.entries(out.compartment_nodes).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        cellTypeModel ? `cell types written for ${out.cell_types_written} cells` : '',
        `skeletons with a compartment attribute: ${out.skeleton_dir}`,
        scores ? scoreText(scores) : '',
      ].filter((l) => l).join('\n'),
    );
  });
}
