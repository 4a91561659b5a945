// `npm run bench phantom-synapses`: synapses and organelles on a phantom never used for choosing.
// For each pair (chosen on seed A -> measured on seed B): a training phantom of seed A (small, 3x
// synapse density), the 5-class pixel forest `wiring train-pixels --labels` trains on it (it cross-fits
// itself there and carries the object rule of every class: hysteresis + size, chosen by out-of-fold
// object F1), then a large phantom of seed B (>= 100 synapses) is predicted and scored:
//  - cleft, mitochondria and vesicle-cloud object F1 (3-D objects of the map under the carried
//    rule, 6-connected as `wiring synapses` finds them, against the phantom's label layers: greedy
//    one-to-one by overlap, src/metrics/objects.ts), with the counts of true and found objects;
//  - synapse partner F1 of `wiring synapses` with its defaults (carried rules, default radii) on the
//    phantom's true segmentation, scored CREMI-like against its synapse table (src/metrics/synapses.ts);
//  - the same with the true cleft and vesicle labels (what the partner assignment alone reaches).
// The CLI runs from dist/ (`npx tsc -p tsconfig.json` first). Volumes are cached in
// bench/out/phantom-synapses-data/. PHSYN_PAIRS (default "2:4,4:2"), PHSYN_TREES (32),
// PHSYN_SAMPLES (60000): the demo's forest; PHSYN_TRAIN_SIZE (192,192,48), PHSYN_TEST_SIZE (384,384,80).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { carriedObjectRule } from '../src/cli/object-rules.js';
import { DEFAULT_OBJECT_PARAMS } from '../src/stages/synapses/objects.js';
import { readVolume, scoreObjects } from './phantom-synapses-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIR = path.join(here, 'out', 'phantom-synapses-data');
const TREES = process.env.PHSYN_TREES ?? '32';
const SAMPLES = process.env.PHSYN_SAMPLES ?? '60000';
const TRAIN_SIZE = process.env.PHSYN_TRAIN_SIZE ?? '192,192,48';
const TEST_SIZE = process.env.PHSYN_TEST_SIZE ?? '384,384,80';
const TRAIN_DENSITY = '3';
const TEST_DENSITY = '2';
const PAIRS = (process.env.PHSYN_PAIRS ?? '2:4,4:2').split(',').map((p) => p.split(':').map(Number) as [number, number]);
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

function wiring(...args: string[]): Record<string, any> {
  const out = execFileSync(process.execPath, [path.resolve(here, '../bin/wiring.js'), ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  return JSON.parse(out.toString());
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
  const train = path.join(DIR, `train-s${chooseSeed}`);
  const test = path.join(DIR, `test-s${measureSeed}`);
  const model = path.join(DIR, `model-s${chooseSeed}-${TREES}t.forest`);
  const probs = path.join(test, `probabilities-from-s${chooseSeed}-${TREES}t`);
  log(`phantoms: train seed ${chooseSeed} ${TRAIN_SIZE} (density x${TRAIN_DENSITY}), test seed ${measureSeed} ${TEST_SIZE} (density x${TEST_DENSITY})`);
  phantom(train, chooseSeed, TRAIN_SIZE, TRAIN_DENSITY);
  phantom(test, measureSeed, TEST_SIZE, TEST_DENSITY);
  if (!existsSync(path.join(train, 'classes', 'info'))) {
    wiring('classes', path.join(train, 'classes'), '--neurons', path.join(train, 'neurons'), '--clefts', path.join(train, 'clefts'), '--vesicles', path.join(train, 'vesicles'), '--mitochondria', path.join(train, 'mitochondria'));
  }
  log(`train-pixels on seed ${chooseSeed} (${TREES} trees, ${SAMPLES} samples; cross-fits itself and carries the object rules)`);
  const trained = wiring('train-pixels', '--raw', path.join(train, 'raw'), '--labels', path.join(train, 'classes'), '-o', model, '--trees', TREES, '--samples', SAMPLES);
  const outputs: string[] = trained.outputs;
  const ch = (cls: number): string => {
    const c = outputs.indexOf(`class_${cls}`);
    if (c < 0) throw new Error(`the model trained on seed ${chooseSeed} has no class ${cls} (outputs ${outputs})`);
    return `${probs}?channel=${c}`;
  };
  log(`predict seed ${measureSeed}`);
  wiring('predict', '--raw', path.join(test, 'raw'), '--model', model, probs, '--dtype', 'uint8', '--overwrite');
  const objects: Record<string, unknown> = {};
  for (const [name, cls, layer] of [['clefts', 3, 'clefts'], ['vesicle_clouds', 4, 'vesicles'], ['mitochondria', 5, 'mitochondria']] as const) {
    const rule = carriedObjectRule(ch(cls)) ?? DEFAULT_OBJECT_PARAMS;
    objects[name] = scoreObjects(await readVolume(ch(cls)), await readVolume(path.join(test, layer)), rule);
    console.log(name, JSON.stringify(objects[name]));
  }
  const gt = ['--ground-truth', path.join(test, 'connectome.duckdb'), '--gt-segmentation', path.join(test, 'neurons'), '--segmentation', path.join(test, 'neurons')];
  log('wiring synapses with its defaults (carried rules) on the true segmentation');
  const db = path.join(DIR, `detected-s${chooseSeed}-s${measureSeed}.duckdb`);
  const syn = wiring('synapses', fresh(db), '--clefts', ch(3), '--vesicles', ch(4), '--mitochondria', ch(5), ...gt);
  const trueDb = path.join(DIR, `true-labels-s${measureSeed}.duckdb`);
  const upper = wiring('synapses', fresh(trueDb), '--clefts', path.join(test, 'clefts'), '--vesicles', path.join(test, 'vesicles'), ...gt);
  const row = {
    chosen_on: `phantom seed ${chooseSeed}, ${TRAIN_SIZE} at 8x8x30 nm, synapse density x${TRAIN_DENSITY} (forest + out-of-fold object rules)`,
    measured_on: `phantom seed ${measureSeed}, ${TEST_SIZE}, synapse density x${TEST_DENSITY}`,
    forest: { trees: Number(TREES), samples: Number(SAMPLES), object_rules: trained.object_rules },
    objects,
    partners: { ...(syn.partners as object), found: syn.synapses, cleft_rule: { high: syn.threshold, low: syn.low_threshold ?? syn.threshold, min_size: syn.min_size }, dropped: syn.dropped },
    organelles_found: syn.organelles,
    partners_true_clefts_and_vesicles: upper.partners,
  };
  console.log(JSON.stringify({ partners: row.partners, partners_true_clefts_and_vesicles: row.partners_true_clefts_and_vesicles }));
  return row;
}

export default async function run(): Promise<unknown> {
  mkdirSync(DIR, { recursive: true });
  const rows: unknown[] = [];
  for (const [a, b] of PAIRS) rows.push(await pair(a, b));
  return { rows };
}
