import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/atomic.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { CLASSIFIER_DEFAULTS, modelBytes, trainClassifier } from '../../stages/annotate/classify.js';
import { type CellLabel, cellTypeSamples, checkLabelIds, readCellLabels } from '../../stages/annotate/labels.js';
import { annotateCell, applyOutputTargets, loadCells, outputTargetCounts, skeletonSource } from '../../stages/annotate/run.js';
import { UsageError } from '../../core/errors.js';
import { emit } from '../output.js';
import { formatCv, positive, readModelFile, ruleOptions, rulesFrom } from '../annotate-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('train-cell-types')
    .description('train the random-forest cell-type classifier from labelled cells (a CAVE-style table pt_root_id, cell_type, classification_system, or the store\'s cells table); prints and keeps cross-validated accuracy, balanced accuracy and the confusion matrix')
    .argument('<skeletons>', 'segmentation layer with skeletons, or a skeleton folder')
    .argument('<db>', 'connectome database (cells, synapses, organelles)')
    .requiredOption('-o, --output <file>', 'model file to write')
    .option('--labels <csv>', 'cell-type table (pt_root_id, cell_type[, classification_system]); default: the cells table\'s cell_type')
    .option('--classification-system <s>', 'only labels of this classification system')
    .option('--compartment-model <file>', 'compute compartments with this model (default: rules), as wiring annotate will')
    .option('--min-cable <um>', 'train only on labelled cells with at least this much skeleton cable (µm): fragments carry little type information', '0')
    .option('--trees <n>', 'trees', String(CLASSIFIER_DEFAULTS.nTrees))
    .option('--folds <n>', 'cross-validation folds', String(CLASSIFIER_DEFAULTS.folds))
    .option('--seed <n>', 'random seed', String(CLASSIFIER_DEFAULTS.seed));
  ruleOptions(cmd).option('--json', 'machine-readable output');
  return cmd.action(async (skeletons: string, db: string, opts) => {
    const { radiusNm, rules } = rulesFrom(opts);
    const compartmentModel = opts.compartmentModel ? await readModelFile(opts.compartmentModel, 'compartments') : undefined;
    const src = await skeletonSource(skeletons);
    const store = await ConnectomeStore.open(db, { readOnly: true });
    let loaded;
    let labels: CellLabel[];
    const where = opts.labels ?? `${db} cells.cell_type`;
    try {
      const storeIds = new Set((await store.all('SELECT pt_root_id FROM cells')).map((r) => r.pt_root_id as bigint));
      if (opts.labels) {
        labels = await readCellLabels(opts.labels);
        checkLabelIds(labels, storeIds, opts.labels);
      } else {
        const rows = await store.all('SELECT pt_root_id, cell_type, classification_system FROM cells WHERE cell_type IS NOT NULL ORDER BY pt_root_id');
        labels = rows.map((r, i) => ({ id: r.pt_root_id as bigint, cell_type: String(r.cell_type), classification_system: r.classification_system === null ? undefined : String(r.classification_system), line: i + 1 }));
      }
      if (opts.classificationSystem) labels = labels.filter((l) => l.classification_system === opts.classificationSystem);
      if (labels.length === 0) throw new UsageError(`no labelled cells${opts.classificationSystem ? ` of classification system ${opts.classificationSystem}` : ''}`, where);
      loaded = await loadCells(src, store);
    } finally {
      await store.close();
    }
    const ann = new Map(loaded.cells.map((c) => [c.id, annotateCell(c, { radiusNm, rules, compartmentModel })]));
    applyOutputTargets(ann, outputTargetCounts(loaded, ann)); // out_on_*: the partners' compartments, as annotate computes them
    const minCable = Number(opts.minCable);
    if (!(minCable >= 0)) throw new UsageError(`--min-cable ${opts.minCable}: expected a number >= 0`);
    const samples = cellTypeSamples(loaded, ann, labels, where, minCable);
    const systems = [...new Set(labels.map((l) => l.classification_system).filter((s) => s))];
    const model = trainClassifier('cell-types', samples, {
      nTrees: positive(opts.trees, '--trees'),
      folds: positive(opts.folds, '--folds'),
      seed: Number(opts.seed),
      classification_system: opts.classificationSystem ?? (systems.length === 1 ? systems[0] : 'labels'),
    });
    await writeFileAtomic(opts.output, modelBytes(model));
    emit(opts, { model: opts.output, cells: samples.labels.length, classes: model.classes, classification_system: model.classification_system, cv: model.cv }, () =>
      [`trained on ${samples.labels.length} labelled cells with skeletons -> ${opts.output}`, formatCv(model.cv)].join('\n'),
    );
  });
}
