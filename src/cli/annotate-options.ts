/** Options and helpers shared by `annotate`, `train-compartments` and `train-cell-types` (command files import no other command file). */
import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { type CvReport, modelFromBytes } from '../stages/annotate/classify.js';
import { RULE_DEFAULTS, type RuleParams } from '../stages/annotate/compartments.js';
import { ORGANELLE_DEFAULTS } from '../stages/annotate/organelles.js';

export function positive(v: unknown, what: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`${what} ${JSON.stringify(v)}: expected a positive number`);
  return n;
}

export function ruleOptions(cmd: Command): Command {
  return cmd
    .option('--radius <nm>', 'organelles and synapses within this distance of a node count for it', String(ORGANELLE_DEFAULTS.radiusNm))
    .option('--soma-radius <nm>', 'rules: a node at least this thick may be soma', String(RULE_DEFAULTS.somaRadiusNm))
    .option('--spine-max-length <nm>', 'rules: longest terminal branch taken as a spine', String(RULE_DEFAULTS.spineMaxLengthNm))
    .option('--axon-radius <nm>', 'rules: a cell without synapses is axon when its median radius is below this', String(RULE_DEFAULTS.axonRadiusNm));
}

export function rulesFrom(opts: Record<string, string>): { radiusNm: number; rules: RuleParams } {
  return {
    radiusNm: positive(opts.radius, '--radius'),
    rules: {
      ...RULE_DEFAULTS,
      somaRadiusNm: positive(opts.somaRadius, '--soma-radius'),
      spineMaxLengthNm: positive(opts.spineMaxLength, '--spine-max-length'),
      axonRadiusNm: positive(opts.axonRadius, '--axon-radius'),
    },
  };
}

export async function readModelFile(file: string, kind: 'compartments' | 'cell-types') {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(file));
  } catch (err) {
    throw new UsageError(`cannot read model: ${(err as Error).message}`, file);
  }
  return modelFromBytes(bytes, file, kind);
}

/** Cross-validation report as text: accuracy, balanced accuracy, confusion matrix. */
export function formatCv(cv: CvReport | null): string {
  if (!cv) return 'no cross-validation (fewer than 2 labelled cells)';
  const w = Math.max(8, ...cv.classes.map((c) => c.length)) + 1;
  const pad = (s: string) => s.padStart(w);
  return [
    `${cv.folds}-fold cross-validation: accuracy ${cv.accuracy.toFixed(3)}, balanced accuracy ${cv.balanced_accuracy.toFixed(3)}`,
    `confusion (rows true, columns predicted):`,
    pad('') + cv.classes.map(pad).join(''),
    ...cv.confusion.map((r, k) => pad(cv.classes[k]) + r.map((v) => pad(String(v))).join('')),
  ].join('\n');
}

