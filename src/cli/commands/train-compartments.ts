import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/atomic.js';
import { UsageError } from '../../core/errors.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { CLASSIFIER_DEFAULTS, modelBytes, trainClassifier } from '../../stages/annotate/classify.js';
import { compartmentSamples, readNodeLabels } from '../../stages/annotate/labels.js';
import { annotateCell, loadCells, skeletonSource } from '../../stages/annotate/run.js';
import { LabelSampler } from '../../stages/annotate/truth.js';
import { emit } from '../output.js';
import { formatCv, positive, ruleOptions, rulesFrom } from '../annotate-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('train-compartments')
    .description('train the random-forest node compartment classifier (soma, axon, dendrite, spine head/neck) from labelled skeleton nodes; prints and keeps cross-validated accuracy, balanced accuracy and the confusion matrix (folds by cell)')
    .argument('<skeletons>', 'segmentation layer with skeletons, or a skeleton folder')
    .argument('<db>', 'connectome database (synapses, organelles)')
    .requiredOption('-o, --output <file>', 'model file to write')
    .option('--truth <layer>', 'compartment label layer (0 none, 1 soma, 2 axon, 3 dendrite, 4 spine head, 5 spine neck; e.g. a phantom\'s compartments/)')
    .option('--labels <csv>', 'node labels: pt_root_id, node (skeleton vertex index), compartment (name)')
    .option('--trees <n>', 'trees', String(CLASSIFIER_DEFAULTS.nTrees))
    .option('--folds <n>', 'cross-validation folds (by cell)', String(CLASSIFIER_DEFAULTS.folds))
    .option('--seed <n>', 'random seed', String(CLASSIFIER_DEFAULTS.seed));
  ruleOptions(cmd).option('--json', 'machine-readable output');
  return cmd.action(async (skeletons: string, db: string, opts) => {
    if (!opts.truth === !opts.labels) throw new UsageError('give exactly one of --truth <layer> or --labels <csv>');
    const { radiusNm, rules } = rulesFrom(opts);
    const src = await skeletonSource(skeletons);
    const store = await ConnectomeStore.open(db, { readOnly: true });
    let loaded;
    try {
      loaded = await loadCells(src, store);
    } finally {
      await store.close();
    }
    const ann = new Map(loaded.cells.map((c) => [c.id, annotateCell(c, { radiusNm, rules })]));
    const samples = await compartmentSamples(loaded, ann, opts.truth ? { sampler: await LabelSampler.open(opts.truth), where: opts.truth } : { labels: await readNodeLabels(opts.labels), where: opts.labels });
    const model = trainClassifier('compartments', samples, { nTrees: positive(opts.trees, '--trees'), folds: positive(opts.folds, '--folds'), seed: Number(opts.seed) });
    await writeFileAtomic(opts.output, modelBytes(model));
    emit(opts, { model: opts.output, samples: samples.labels.length, cells: new Set(Array.from(samples.groups)).size, classes: model.classes, cv: model.cv }, () =>
      [`trained on ${samples.labels.length} nodes of ${new Set(Array.from(samples.groups)).size} cells -> ${opts.output}`, formatCv(model.cv)].join('\n'),
    );
  });
}
