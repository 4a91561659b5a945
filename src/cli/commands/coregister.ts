import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/atomic.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { renderTable } from '../../connectome/format.js';
import { COREGISTER_DEFAULTS, type Landmark, type Point3, applyTransform, coregister, parseTransform } from '../../connectome/function/coregister.js';
import { splitCsvLine } from '../../connectome/import.js';
import { emit } from '../output.js';

/** Rows of a CSV with a header line, as objects of strings. */
async function readCsv(file: string): Promise<{ header: string[]; rows: string[][] }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read: ${(err as Error).message}`, file);
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new FormatError('expected a header line and at least one row', file);
  const delim = lines[0].includes('\t') ? '\t' : ',';
  return { header: splitCsvLine(lines[0], delim).map((h) => h.trim()), rows: lines.slice(1).map((l) => splitCsvLine(l, delim)) };
}

function columns(spec: string, header: string[], file: string, what: string): number[] {
  const names = spec.split(',').map((s) => s.trim());
  if (names.length !== 3) throw new UsageError(`${what} ${JSON.stringify(spec)}: expected three column names X,Y,Z`);
  return names.map((n) => {
    const i = header.indexOf(n);
    if (i < 0) throw new FormatError(`no column ${n} (columns: ${header.join(', ')}); name them with ${what}`, file);
    return i;
  });
}

function point(row: string[], idx: number[], file: string, line: number, header: string[]): Point3 {
  return idx.map((i) => {
    const v = Number(row[i]);
    if (row[i] === undefined || row[i].trim() === '' || !Number.isFinite(v)) throw new FormatError(`line ${line}, column ${header[i]}: ${JSON.stringify(row[i] ?? '')} is not a number`, file);
    return v;
  }) as Point3;
}

export function register(program: Command): Command {
  const cmd = program.command('coregister').description('landmark coregistration of a light-microscopy volume to the EM: affine, then thin-plate spline');

  cmd
    .command('fit <landmarks.csv>')
    .description('fit a transform from landmark pairs (source -> target) and report leave-one-out residuals per landmark')
    .option('--kind <kind>', 'affine | tps', COREGISTER_DEFAULTS.kind)
    .option('--lambda <l>', `spline smoothing (default ${COREGISTER_DEFAULTS.lambda}: exact)`)
    .option('--source <x,y,z>', 'source columns', 'em_x,em_y,em_z')
    .option('--target <x,y,z>', 'target columns', 'tp_x,tp_y,tp_z')
    .option('-o, --out <transform.json>', 'write the transform here')
    .option('--json', 'machine-readable output on stdout')
    .action(async (file: string, o) => {
      if (!['affine', 'tps'].includes(o.kind)) throw new UsageError(`--kind ${o.kind}: expected affine or tps`);
      const lambda = o.lambda === undefined ? COREGISTER_DEFAULTS.lambda : Number(o.lambda);
      if (!(lambda >= 0)) throw new UsageError(`--lambda ${o.lambda}: expected a number >= 0`);
      const { header, rows } = await readCsv(file);
      const s = columns(o.source, header, file, '--source');
      const t = columns(o.target, header, file, '--target');
      const name = header.indexOf('name');
      const lms: Landmark[] = rows.map((r, i) => ({ source: point(r, s, file, i + 2, header), target: point(r, t, file, i + 2, header), name: name >= 0 ? r[name] : String(i + 1) }));
      const rep = coregister(lms, o.kind, lambda);
      if (o.out) await writeFileAtomic(o.out, JSON.stringify(rep.transform, null, 1) + '\n');
      emit(o, rep, () =>
        [
          renderTable({ columns: ['landmark', 'fit_residual', 'loo_residual'], rows: rep.residuals.map((r) => [r.name, Number(r.fit.toFixed(4)), Number(r.loo.toFixed(4))]) }, 'table'),
          `${rep.kind} on ${rep.landmarks} landmarks: fit RMS ${rep.fit_rms.toFixed(4)}; leave-one-out median ${rep.loo_median.toFixed(4)}, p95 ${rep.loo_p95.toFixed(4)}, max ${rep.loo_max.toFixed(4)} (target units)${o.out ? `\ntransform -> ${o.out}` : ''}`,
        ].join('\n'),
      );
    });

  cmd
    .command('apply <transform.json> <points.csv>')
    .description('map points through a fitted transform (e.g. EM nm -> 2-photon µm); writes CSV with the mapped columns added')
    .option('--columns <x,y,z>', 'point columns', 'x,y,z')
    .option('--prefix <p>', 'name prefix of the mapped columns', 'mapped_')
    .option('-o, --out <file.csv>', 'write here (default stdout)')
    .option('--json', 'machine-readable output on stdout')
    .action(async (tfile: string, file: string, o) => {
      let json: unknown;
      try {
        json = JSON.parse(await fs.readFile(tfile, 'utf8'));
      } catch (err) {
        throw new FormatError(`not a JSON transform: ${(err as Error).message}`, tfile);
      }
      const tr = parseTransform(json, tfile);
      const { header, rows } = await readCsv(file);
      const c = columns(o.columns, header, file, '--columns');
      const mapped = rows.map((r, i) => applyTransform(tr, point(r, c, file, i + 2, header)));
      const out = [[...header, ...['x', 'y', 'z'].map((a) => `${o.prefix}${a}`)].join(','), ...rows.map((r, i) => [...r, ...mapped[i].map((v) => String(Number(v.toFixed(6))))].join(','))].join('\n') + '\n';
      if (o.out) await writeFileAtomic(o.out, out);
      if (o.json) emit(o, { points: mapped.length, out: o.out ?? null, mapped }, () => '');
      else process.stdout.write(o.out ? `${mapped.length} points -> ${o.out}\n` : out);
    });
  return cmd;
}
