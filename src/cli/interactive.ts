/**
 * "Run on the whole volume" from the app: the latest interactive model's blockwise predict, then
 * (when the model has a boundary class) segment, cells, meshes and skeletons, each the same
 * `wiring` command a user runs by hand (so it goes through the scheduler, local workers or
 * Redis, and resumes after a crash). One run at a time; the app polls a run for its stages.
 *
 *   <dataset>/interactive/run-<model>/probabilities, segmentation, supervoxels, connectome.duckdb
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { InteractiveRouteOptions, RunsBackend } from '../server/interactive.js';
import { INTERACTIVE_DIR, InteractiveService, interactiveModelIds } from '../stages/predict/interactive-service.js';
import { Recut } from '../stages/segment/recut.js';
import { runWiring } from './pipeline.js';

interface RunStage {
  name: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'skipped';
  /** While running: the command's progress (blocks done of total, WIRING_PROGRESS_FILE). */
  progress?: { label: string; done: number; total: number };
  seconds?: number;
  error?: string;
  result?: unknown;
}

interface Run {
  id: number;
  user: string;
  model: number | null;
  out: string | null;
  state: 'queued' | 'running' | 'done' | 'failed';
  stages: RunStage[];
  notification: string | null;
}

export class InteractiveRuns implements RunsBackend {
  private readonly runs: Run[] = [];
  private chain: Promise<void> = Promise.resolve();
  constructor(
    readonly dataset: string,
    readonly raw = 'raw',
    readonly extraArgs: string[] = [],
  ) {}

  async start(user: string): Promise<Run> {
    const ids = await interactiveModelIds(this.dataset);
    const model = ids.length ? ids[ids.length - 1] : null;
    const out = model === null ? null : path.join(this.dataset, INTERACTIVE_DIR, `run-${model}`);
    const names = ['predict', 'segment', 'cells', 'meshes', 'skeletons'];
    const run: Run = { id: this.runs.length + 1, user, model, out, state: 'queued', stages: names.map((name) => ({ name, state: 'queued' })), notification: null };
    this.runs.push(run);
    this.chain = this.chain.then(() => this.execute(run));
    return run;
  }

  get(id: number): Run {
    const r = this.runs[id - 1];
    if (!r) throw Object.assign(new Error(`no run ${id}`), { statusCode: 404 });
    return r;
  }

  private async execute(run: Run): Promise<void> {
    run.state = 'running';
    const fail = (why: string) => {
      run.state = 'failed';
      run.notification = `run ${run.id} failed: ${why}`;
    };
    if (run.model === null || run.out === null) {
      run.stages.forEach((s) => (s.state = 'skipped'));
      return fail('no model trained yet');
    }
    const modelFile = path.join(this.dataset, INTERACTIVE_DIR, 'models', `${run.model}.forest`);
    const probs = path.join(run.out, 'probabilities');
    const seg = path.join(run.out, 'segmentation');
    const db = path.join(run.out, 'connectome.duckdb');
    let boundary = -1;
    const steps: Array<[string, () => string[] | undefined]> = [
      ['predict', () => ['predict', '--raw', path.join(this.dataset, this.raw), '--model', modelFile, probs, '--dtype', 'uint8', '--overwrite', ...this.extraArgs]],
      ['segment', () => (boundary < 0 ? undefined : ['segment', '--boundaries', `${probs}?channel=${boundary}`, seg, '--supervoxels-out', path.join(run.out!, 'supervoxels'), '--overwrite'])],
      ['cells', () => (boundary < 0 ? undefined : ['cells', seg, db, '--replace', ...this.extraArgs])],
      ['meshes', () => (boundary < 0 ? undefined : ['mesh', seg, ...this.extraArgs])],
      ['skeletons', () => (boundary < 0 ? undefined : ['skeletonize', seg, ...this.extraArgs])],
    ];
    for (let i = 0; i < steps.length; i++) {
      const stage = run.stages[i];
      const args = steps[i][1]();
      if (!args) {
        stage.state = 'skipped';
        continue;
      }
      stage.state = 'running';
      const t0 = Date.now();
      const progressFile = path.join(run.out, `.progress-${stage.name}.json`);
      await fs.mkdir(run.out, { recursive: true });
      await fs.rm(progressFile, { force: true });
      const poll = setInterval(() => {
        fs.readFile(progressFile, 'utf8')
          .then((t) => {
            const p = JSON.parse(t) as { label: string; done: number; total: number };
            if (stage.state === 'running') stage.progress = { label: p.label, done: p.done, total: p.total };
          })
          .catch(() => {});
      }, 300);
      try {
        stage.result = await runWiring(args, { env: { ...process.env, WIRING_PROGRESS_FILE: progressFile } });
        stage.state = 'done';
        if (stage.name === 'predict') {
          const values = ((stage.result as { outputs?: unknown[] }).outputs ?? []).map(String);
          // a forest trained on labels names its outputs class_<value> (trainPixelClassifier); boundary = value 1
          boundary = values.findIndex((v) => v === 'class_1' || v === '1' || v === 'boundary');
        }
      } catch (err) {
        clearInterval(poll);
        stage.state = 'failed';
        stage.error = (err as Error).message;
        stage.seconds = (Date.now() - t0) / 1000;
        run.stages.slice(i + 1).forEach((s) => (s.state = 'skipped'));
        return fail(`${stage.name}: ${stage.error.split('\n')[0]}`);
      }
      clearInterval(poll);
      delete stage.progress;
      await fs.rm(progressFile, { force: true });
      stage.seconds = (Date.now() - t0) / 1000;
    }
    run.state = 'done';
    run.notification = `run ${run.id} done: model ${run.model} on the whole volume -> ${run.out}`;
  }
}

/**
 * The interactive routes of a dataset: strokes, training and prediction on its raw layer (when it
 * has one), re-cutting the merge tree of its segmentation (when it has one with merge_tree.json),
 * and whole-volume runs. Undefined when the dataset has no raw layer.
 */
export async function interactiveOptions(dataset: string, o: { token?: string; raw?: string; segmentation?: string; runArgs?: string[] } = {}): Promise<{ options: InteractiveRouteOptions; close: () => Promise<void> } | undefined> {
  const raw = o.raw ?? 'raw';
  if (!existsSync(path.join(dataset, raw, 'info'))) return undefined;
  const backend = await InteractiveService.open(dataset, raw);
  const segDir = path.join(dataset, o.segmentation ?? 'segmentation');
  const recut = existsSync(path.join(segDir, 'merge_tree.json')) ? await Recut.open(segDir).catch(() => undefined) : undefined;
  return { options: { backend, recut, runs: new InteractiveRuns(dataset, raw, o.runArgs), token: o.token }, close: () => backend.close() };
}
