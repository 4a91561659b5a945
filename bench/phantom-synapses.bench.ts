// `npm run bench phantom-synapses`: synapses and organelles on a phantom never used for choosing.
// For each pair (chosen on seed A -> measured on seed B): a training phantom of seed A (384x384x80,
// 3x synapse density: ~150 cleft objects, what the cleft filter needs to learn from), the 5-class
// pixel forest `wiring train-pixels --labels` trains on it (it cross-fits itself there and carries
// the object rule of every class: hysteresis + size, chosen by out-of-fold object F1, and the cleft
// object filter trained on the out-of-fold maps), then a large phantom of seed B (>= 100 synapses)
// is predicted and scored:
//  - the cleft channel's pixel AUC and mean probability at true cleft voxels;
//  - cleft, mitochondria and vesicle-cloud object F1 (3-D objects of the map under the carried
//    rule, 6-connected as `wiring synapses` finds them, against the phantom's label layers: greedy
//    one-to-one by overlap, src/metrics/objects.ts), with the counts of true and found objects;
//  - the cleft objects `wiring synapses` keeps by default: the carried filter's candidates above its cut;
//  - synapse partner F1 of `wiring synapses` with its defaults (carried rules and filter, default radii)
//    on the phantom's true segmentation, scored CREMI-like against its synapse table (src/metrics/synapses.ts),
//    and with `--no-cleft-filter` (the carried rule alone), and on a predicted segmentation (`wiring segment`
//    with its defaults on the predicted boundary channel; its VOI against the truth is recorded), there also with
//    `--merged-partners` (a cleft inside one merged segment still reported);
//  - the same with the true cleft and vesicle labels (what the partner assignment alone reaches).
// The CLI runs from dist/ (`npx tsc -p tsconfig.json` first). Volumes are cached in
// bench/out/phantom-synapses-data/. PHSYN_PAIRS (default "2:4,4:2"), PHSYN_TREES (32),
// PHSYN_SAMPLES (60000): the demo's forest; PHSYN_TRAIN_SIZE (384,384,80; the runs before the cleft filter used 192,192,48), PHSYN_TEST_SIZE (384,384,80);
// PHSYN_SEG_FEATURES=0 trains the cleft filter on the maps alone (default: `train-pixels --segmentation`
// with the training phantom's true neurons, so the filter also reads the segments across each candidate);
// PHSYN_FILTER_SEG=predicted trains the filter on a predicted segmentation of the training phantom instead
// (`train-pixels --predicted-segmentation`: `wiring segment` defaults on its out-of-fold boundary map), as a user has no true neurons;
// PHSYN_CONTACT_SITES=1 adds `--contact-sites` (candidates = the training segmentation's contact sites, contact-sites.ts);
// PHSYN_AUTOCONTEXT=1 trains with `--auto-context` (a context forest on the first forest's out-of-fold
// map); PHSYN_TRAIN_DENSITY (3) is the training phantom's `--synapse-density` (in a 192x192x48 phantom
// density 6 holds no more clefts than 3: 17 vs 18 on seed 2; a larger PHSYN_TRAIN_SIZE does).
// PHSYN_FEATURES and PHSYN_SIGMAS (default: train-pixels' own, G,GGM,LoG,DoG,STE,HoGE and 0.7,1.6,3.5,5)
// are passed to `train-pixels --features` / `--sigmas` (e.g. PHSYN_FEATURES=G,GGM,LoG,DoG,STE,HoGE,LINE, PHSYN_SIGMAS=0.7,1.6,3.5,5,10);
// PHSYN_BOOTSTRAP passes `train-pixels --bootstrap <scheme>` (balanced or plain; unset: train-pixels' default), PHSYN_STE_OUTER
// `--ste-outer <half|sigma>` (the structure tensor's scales);
// PHSYN_PRESET passes `train-pixels --preset <name>` (its flags; PHSYN_FEATURES / PHSYN_SIGMAS / PHSYN_AUTOCONTEXT beside it win);
// PHSYN_ROWS=cleft (default all) keeps only the rows of the cleft class: pixel and object scores and the partners of
// `wiring synapses` defaults on the true segmentation; it skips the predicted-segmentation rows (`wiring segment` and its
// `wiring synapses` runs), the `--no-cleft-filter` row and the true-label row (the same for every forest).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { carriedObjectRule } from '../src/cli/object-rules.js';
import { DEFAULT_OBJECT_PARAMS } from '../src/stages/synapses/objects.js';
import { pixelScores, readVolume, scoreFilteredClefts, scoreObjects } from './phantom-synapses-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIR = path.join(here, 'out', 'phantom-synapses-data');
const TREES = process.env.PHSYN_TREES ?? '32';
const SAMPLES = process.env.PHSYN_SAMPLES ?? '60000';
const TRAIN_SIZE = process.env.PHSYN_TRAIN_SIZE ?? '384,384,80';
const TEST_SIZE = process.env.PHSYN_TEST_SIZE ?? '384,384,80';
const TRAIN_DENSITY = process.env.PHSYN_TRAIN_DENSITY ?? '3';
const AUTOCONTEXT = process.env.PHSYN_AUTOCONTEXT === '1';
/** PHSYN_FEATURES / PHSYN_SIGMAS: `train-pixels --features` / `--sigmas` (unset: train-pixels' defaults). */
const FEATURES = process.env.PHSYN_FEATURES;
const SIGMAS = process.env.PHSYN_SIGMAS;
/** PHSYN_PRESET: `train-pixels --preset <name>`. */
const PRESET = process.env.PHSYN_PRESET;
/** PHSYN_BOOTSTRAP: `train-pixels --bootstrap <scheme>`. */
const BOOTSTRAP = process.env.PHSYN_BOOTSTRAP;
/** PHSYN_STE_OUTER: `train-pixels --ste-outer <half|sigma>`. */
const STE_OUTER = process.env.PHSYN_STE_OUTER;
for (const [name, v] of [['PHSYN_FEATURES', FEATURES], ['PHSYN_SIGMAS', SIGMAS], ['PHSYN_PRESET', PRESET], ['PHSYN_BOOTSTRAP', BOOTSTRAP], ['PHSYN_STE_OUTER', STE_OUTER]] as const) {
  if (v !== undefined && !/^[A-Za-z0-9.,-]+$/.test(v)) throw new Error(`${name}: expected a comma-separated list (or a preset name), got ${JSON.stringify(v)}`);
}
/** PHSYN_ROWS=cleft: only the cleft class's rows (no predicted segmentation, no --no-cleft-filter row, no true-label row). */
const ROWS = process.env.PHSYN_ROWS ?? 'all';
if (ROWS !== 'all' && ROWS !== 'cleft') throw new Error(`PHSYN_ROWS: expected all or cleft, got ${ROWS}`);
const ALL_ROWS = ROWS === 'all';
/** Names the feature settings in the cache names (unset: '' so the defaults keep earlier runs' names). */
const FEATURE_TAG = `${BOOTSTRAP ? `-b${BOOTSTRAP}` : ''}${STE_OUTER ? `-ste${STE_OUTER}` : ''}${PRESET ? `-p${PRESET}` : ''}${FEATURES ? `-f${FEATURES.replaceAll(',', '')}` : ''}${SIGMAS ? `-s${SIGMAS.replaceAll(',', '_')}` : ''}`;
/** The cleft filter learns from the training phantom's true segmentation too (`train-pixels --segmentation`); PHSYN_SEG_FEATURES=0: the maps alone. */
const SEG_FEATURES = process.env.PHSYN_SEG_FEATURES !== '0';
/** PHSYN_FILTER_SEG=predicted: the filter's segmentation is a predicted one of the training phantom (`train-pixels --predicted-segmentation`), not its true neurons. */
const FILTER_SEG = process.env.PHSYN_FILTER_SEG ?? 'true';
if (FILTER_SEG !== 'true' && FILTER_SEG !== 'predicted') throw new Error(`PHSYN_FILTER_SEG: expected true or predicted, got ${FILTER_SEG}`);
/** PHSYN_CONTACT_SITES=1: the cleft filter also tries the segmentation's contact sites as candidates (`train-pixels --contact-sites`). */
const CONTACT_SITES = process.env.PHSYN_CONTACT_SITES === '1';
/** Names the training phantom of a setting (the defaults keep the names of earlier runs' cache). */
const TRAIN_TAG = `${TRAIN_DENSITY === '3' ? '' : `-d${TRAIN_DENSITY}`}${TRAIN_SIZE === '192,192,48' ? '' : `-${TRAIN_SIZE.replaceAll(',', 'x')}`}`;
/** Names the model and maps of a setting, so settings never read each other's cache. */
const TAG = `${TREES}t${AUTOCONTEXT ? '-ac' : ''}${FEATURE_TAG}${TRAIN_TAG}${SEG_FEATURES ? (FILTER_SEG === 'predicted' ? '-predseg' : '-seg') : ''}${CONTACT_SITES ? '-sites' : ''}`;
const TEST_DENSITY = '2';
const PAIRS = (process.env.PHSYN_PAIRS ?? '2:4,4:2').split(',').map((p) => p.split(':').map(Number) as [number, number]);
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

function wiring(...args: string[]): Record<string, any> {
  const out = execFileSync(process.execPath, [path.resolve(here, '../bin/wiring.js'), ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  return JSON.parse(out.toString());
}

/** `wiring(...)` and the CPU seconds (user + system) of its process, read by /usr/bin/time (the CLI runs in a child). */
function wiringCpu(...args: string[]): [Record<string, any>, number] {
  const t = path.join(DIR, `.time-${process.pid}`);
  try {
    const out = execFileSync('/usr/bin/time', ['-f', '%U %S', '-o', t, process.execPath, path.resolve(here, '../bin/wiring.js'), ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
    const [u, sys] = readFileSync(t, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
    return [JSON.parse(out.toString()), u + sys];
  } finally {
    rmSync(t, { force: true });
  }
}

/** A fresh detection database (and no resume records of an earlier run). */
function fresh(db: string): string {
  for (const f of [db, `${db}.wal`, `${db}.synapses-state`]) rmSync(f, { recursive: true, force: true });
  return db;
}

function phantom(dir: string, seed: number, size: string, density: string): void {
  if (!existsSync(path.join(dir, 'connectome.duckdb'))) wiring('phantom', dir, '--size', size, '--seed', String(seed), '--synapse-density', density, '--overwrite');
}

async function pair(chooseSeed: number, measureSeed: number): Promise<Record<string, unknown>> {
  const train = path.join(DIR, `train-s${chooseSeed}${TRAIN_TAG}`);
  const test = path.join(DIR, `test-s${measureSeed}`);
  const model = path.join(DIR, `model-s${chooseSeed}-${TAG}.forest`);
  const probs = path.join(test, `probabilities-from-s${chooseSeed}-${TAG}`);
  log(`phantoms: train seed ${chooseSeed} ${TRAIN_SIZE} (density x${TRAIN_DENSITY}), test seed ${measureSeed} ${TEST_SIZE} (density x${TEST_DENSITY})`);
  phantom(train, chooseSeed, TRAIN_SIZE, TRAIN_DENSITY);
  phantom(test, measureSeed, TEST_SIZE, TEST_DENSITY);
  if (!existsSync(path.join(train, 'classes', 'info'))) {
    wiring('classes', path.join(train, 'classes'), '--neurons', path.join(train, 'neurons'), '--clefts', path.join(train, 'clefts'), '--vesicles', path.join(train, 'vesicles'), '--mitochondria', path.join(train, 'mitochondria'));
  }
  log(`train-pixels on seed ${chooseSeed} (${TREES} trees, ${SAMPLES} samples${AUTOCONTEXT ? ', auto-context' : ''}${PRESET ? `, preset ${PRESET}` : ''}${FEATURES ? `, features ${FEATURES}` : ''}${SIGMAS ? `, sigmas ${SIGMAS}` : ''}; cross-fits itself and carries the object rules)`);
  const featureArgs = [...(BOOTSTRAP ? ['--bootstrap', BOOTSTRAP] : []), ...(STE_OUTER ? ['--ste-outer', STE_OUTER] : []), ...(PRESET ? ['--preset', PRESET] : []), ...(FEATURES ? ['--features', FEATURES] : []), ...(SIGMAS ? ['--sigmas', SIGMAS] : [])];
  const trained = wiring('train-pixels', '--raw', path.join(train, 'raw'), '--labels', path.join(train, 'classes'), '-o', model, '--trees', TREES, '--samples', SAMPLES, ...featureArgs, ...(PRESET && process.env.PHSYN_AUTOCONTEXT === undefined ? [] : [AUTOCONTEXT ? '--auto-context' : '--no-auto-context']), ...(SEG_FEATURES ? (FILTER_SEG === 'predicted' ? ['--predicted-segmentation'] : ['--segmentation', path.join(train, 'neurons')]) : []), ...(CONTACT_SITES ? ['--contact-sites'] : []));
  const outputs: string[] = trained.outputs;
  console.log('object_rules (out-of-fold on the training phantom)', JSON.stringify(trained.object_rules));
  if (trained.predicted_segmentation) console.log('the filter learnt on a predicted segmentation of the training phantom', JSON.stringify(trained.predicted_segmentation));
  const ch = (cls: number): string => {
    const c = outputs.indexOf(`class_${cls}`);
    if (c < 0) throw new Error(`the model trained on seed ${chooseSeed} has no class ${cls} (outputs ${outputs})`);
    return `${probs}?channel=${c}`;
  };
  log(`predict seed ${measureSeed}`);
  const [predicted0, predictCpu] = wiringCpu('predict', '--raw', path.join(test, 'raw'), '--model', model, probs, '--dtype', 'uint8', '--overwrite');
  console.log('predict', JSON.stringify({ cpu_seconds: predictCpu, wall_seconds: predicted0.seconds }));
  const objects: Record<string, unknown> = {};
  for (const [name, cls, layer] of [['clefts', 3, 'clefts'], ['vesicle_clouds', 4, 'vesicles'], ['mitochondria', 5, 'mitochondria']] as const) {
    const rule = carriedObjectRule(ch(cls)) ?? DEFAULT_OBJECT_PARAMS;
    objects[name] = scoreObjects(await readVolume(ch(cls)), await readVolume(path.join(test, layer)), rule);
    console.log(name, JSON.stringify(objects[name]));
  }
  // the cleft objects `wiring synapses` keeps by default: the carried filter's, when the model carries one
  const filtered = await scoreFilteredClefts(ch(3), await readVolume(path.join(test, 'clefts')), await readVolume(path.join(test, 'neurons')));
  if (filtered) {
    objects.clefts_filtered = filtered;
    console.log('clefts after the carried cleft filter', JSON.stringify(filtered));
  }
  const cleftPixels = pixelScores(await readVolume(ch(3)), await readVolume(path.join(test, 'clefts')));
  console.log('cleft pixels', JSON.stringify(cleftPixels));
  const gt = ['--ground-truth', path.join(test, 'connectome.duckdb'), '--gt-segmentation', path.join(test, 'neurons'), '--segmentation', path.join(test, 'neurons')];
  log('wiring synapses with its defaults (carried rules) on the true segmentation');
  const db = path.join(DIR, `detected-s${chooseSeed}-s${measureSeed}-${TAG}.duckdb`);
  const syn = wiring('synapses', fresh(db), '--clefts', ch(3), '--vesicles', ch(4), '--mitochondria', ch(5), ...gt);
  const trueDb = path.join(DIR, `true-labels-s${measureSeed}-${TAG}.duckdb`);
  const upper = ALL_ROWS ? wiring('synapses', fresh(trueDb), '--clefts', path.join(test, 'clefts'), '--vesicles', path.join(test, 'vesicles'), ...gt) : undefined;
  // the same on a predicted segmentation: `wiring segment` (defaults) on the predicted boundary channel
  let predicted: Record<string, unknown> = {};
  if (ALL_ROWS) {
    log('wiring segment on the predicted boundary map, then wiring synapses with its defaults on it');
    const predSeg = path.join(test, `segmentation-from-s${chooseSeed}-${TAG}`);
    const segmented = wiring('segment', '--boundaries', ch(1), predSeg, '--overwrite');
    const onPred = wiring('synapses', fresh(`${db}-predseg`), '--clefts', ch(3), '--vesicles', ch(4), '--mitochondria', ch(5), ...gt.slice(0, 4), '--segmentation', predSeg);
    // the same with --merged-partners: a cleft whose faces lie in one (merged) segment is still reported
    const onPredMerged = wiring('synapses', fresh(`${db}-predseg-merged`), '--clefts', ch(3), '--vesicles', ch(4), '--mitochondria', ch(5), ...gt.slice(0, 4), '--segmentation', predSeg, '--merged-partners');
    const segScore = wiring('evaluate', predSeg, path.join(test, 'neurons'));
    const voi = { split: segScore.voi_split, merge: segScore.voi_merge };
    console.log('predicted segmentation', JSON.stringify({ segments: segmented.segments, voi, partners: onPred.partners }));
    predicted = {
      partners_predicted_segmentation: { ...(onPred.partners as object), found: onPred.synapses, dropped: onPred.dropped, segmentation_voi: voi, segmentation_arand: segScore.arand },
      partners_predicted_segmentation_merged_partners: { ...(onPredMerged.partners as object), found: onPredMerged.synapses, dropped: onPredMerged.dropped },
    };
  }
  const row = {
    chosen_on: `phantom seed ${chooseSeed}, ${TRAIN_SIZE} at 8x8x30 nm, synapse density x${TRAIN_DENSITY} (forest + out-of-fold object rules)`,
    measured_on: `phantom seed ${measureSeed}, ${TEST_SIZE}, synapse density x${TEST_DENSITY}`,
    forest: { trees: Number(TREES), samples: Number(SAMPLES), bootstrap: BOOTSTRAP, ste_outer: STE_OUTER, auto_context: trained.auto_context, preset: PRESET, features: trained.featureConfig?.features, sigmas: trained.featureConfig?.sigmas, segmentation_features: SEG_FEATURES, filter_segmentation: SEG_FEATURES ? FILTER_SEG : undefined, predicted_training_segmentation: trained.predicted_segmentation, contact_sites: CONTACT_SITES, train_synapse_density: Number(TRAIN_DENSITY), object_rules: trained.object_rules },
    objects,
    cleft_pixels: cleftPixels,
    predict_cpu_seconds: predictCpu,
    partners: { ...(syn.partners as object), found: syn.synapses, cleft_rule: { high: syn.threshold, low: syn.low_threshold ?? syn.threshold, min_size: syn.min_size }, cleft_filter: syn.cleft_filter, dropped: syn.dropped },
    organelles_found: syn.organelles,
    partners_true_clefts_and_vesicles: upper?.partners,
    ...predicted,
    ...(filtered && ALL_ROWS ? { partners_without_filter: wiring('synapses', fresh(`${db}-nofilter`), '--clefts', ch(3), '--vesicles', ch(4), '--mitochondria', ch(5), '--no-cleft-filter', ...gt).partners } : {}),
  };
  console.log(JSON.stringify({ partners: row.partners, partners_true_clefts_and_vesicles: row.partners_true_clefts_and_vesicles, partners_without_filter: row.partners_without_filter }));
  return row;
}

export default async function run(): Promise<unknown> {
  mkdirSync(DIR, { recursive: true });
  const rows: unknown[] = [];
  for (const [a, b] of PAIRS) rows.push(await pair(a, b));
  return { rows };
}
