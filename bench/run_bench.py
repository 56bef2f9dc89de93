"""The batch benchmark: our files_to_bigquery against two baselines, in the same run.

    python bench/run_bench.py                      # what `make bench` runs
    python bench/run_bench.py --quick              # a few seconds: smoke test of the harness
    python bench/run_bench.py --sizes 200000 --repeat 3
    python bench/run_bench.py --shapes ordinary --sizes 200000,1000000

Two data shapes (--shapes, both by default), each at sizes 20k, 200k and 1M:
  ordinary      events spread over one hour: a few dozen 60 s windows per key, what most
                event data looks like; every program runs at every size.
  many_windows  events 7 s apart (weeks at 200k): thousands of windows per key, where the
                FnApiRunner's windowed GroupByKey goes quadratic; the Beam baseline runs at
                20k and 200k (capped by --beam-timeout), not at 1M (see --beam-sizes).

For each shape and input size (seeded JSONL from bench/generate.py, ~2% bad records) it
runs, one after the other and rotating the order each repeat:
  suite   python -m beam_pipelines.files_to_bigquery --output_path ... (the real pipeline:
          ParseAndValidate, MaskPII with bench/masking_policy.yaml, Enrich from
          bench/country_regions.csv, the windowed count per event_type when the pipeline
          offers --window, lake sink)
  beam    bench/baseline_beam.py  (hand-written Beam, FnApiRunner; capped by --beam-timeout)
  python  bench/baseline_python.py (plain single-process Python, a hand-written type check)
  python_strict  bench/baseline_python_strict.py (plain Python validating and masking with
          the suite's own validator and masker: the per-CPU-second target's baseline)
and measures wall time and peak RSS of each process tree (bench/procmon.py). events/s is
input events / wall seconds, start-up included. Ratios suite/beam and suite/python are
computed per repeat from runs made minutes apart on the same machine, then summarised
(median and range). A baseline that hits its timeout is reported as a bound
(">T s", "<E events/s"), never as a number it did not reach; the ratio is then a lower bound.

Writes bench/results/latest.json and rewrites the generated table in BENCHMARKS.md (between
the BEGIN/END markers).
"""

import argparse
import datetime
import glob
import json
import os
import platform
import resource
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import procmon  # noqa: E402  pylint: disable=wrong-import-position

SCHEMA = os.path.join(ROOT, 'samples', 'events_schema.json')
LOOKUP = os.path.join(HERE, 'country_regions.csv')
POLICY = os.path.join(HERE, 'masking_policy.yaml')
KEY_VARIABLE = 'BENCH_MASKING_KEY'
# The key the baselines use (bench/baseline_python.KEY): a published benchmark key.
BENCH_KEY = 'benchmark-key-not-secret'
MARK_BEGIN = '<!-- BEGIN run_bench table -->'
MARK_END = '<!-- END run_bench table -->'
# Extra suite flags for the windowed count per (event_type, 60 s event-time window), the same
# aggregation the baselines do (aggregate rows go to files at <output_path>_aggregates).
SUITE_WINDOW_ARGS = ['--window', 'fixed', '--window_size', '60s', '--event_time_field', 'event_time',
                     '--aggregate_keys', 'event_type']


def _count_lines(pattern):
  total = 0
  for path in glob.glob(pattern):
    with open(path, 'rb') as f:
      total += sum(1 for _ in f)
  return total


# Data shapes: the input file's name and bench/generate.py's extra flags.
SHAPES = {
    'ordinary': ('ordinary_{size}.jsonl', ['--spread', '3600']),
    'many_windows': ('events_{size}.jsonl', []),
}


def ensure_input(size, data_dir, shape='many_windows'):
  name, flags = SHAPES[shape]
  path = os.path.join(data_dir, name.format(size=size))
  if not os.path.exists(path):
    tmp = path + '.tmp'
    procmon.run_measured([sys.executable, os.path.join(HERE, 'generate.py'), '--count',
                          str(size), '--out', tmp, *flags], timeout=3600)
    os.replace(tmp, path)
  return path


def commands(program, input_path, out_dir, suite_args=()):
  py = sys.executable
  common = ['--input', input_path, '--schema', SCHEMA]
  if program == 'suite':
    return [py, '-m', 'beam_pipelines.files_to_bigquery', *common,
            '--output_path', os.path.join(out_dir, 'rows'), '--output_format', 'jsonl',
            # the baselines write every run's files as they go: so does the suite here
            '--load_mode', 'append',
            '--masking_policy', POLICY, '--masking_key_source', f'env:{KEY_VARIABLE}',
            '--enrichment_source', LOOKUP, '--enrichment_keys', 'country_code',
            '--enrichment_fields', 'region', *SUITE_WINDOW_ARGS, *suite_args]
  script = {'beam': 'baseline_beam.py', 'python': 'baseline_python.py',
            'python_strict': 'baseline_python_strict.py'}[program]
  return [py, os.path.join(HERE, script), *common, '--lookup', LOOKUP, '--out', out_dir]


def outputs(program, out_dir):
  """(rows written, dead letters) as found in the output files."""
  if program == 'suite':  # rows-*.jsonl only: aggregates are rows_aggregates-*
    return (_count_lines(os.path.join(out_dir, 'rows-*.jsonl')),
            _count_lines(os.path.join(out_dir, 'rows_error_records*')))
  if program == 'beam':
    return (_count_lines(os.path.join(out_dir, 'rows-*')),
            _count_lines(os.path.join(out_dir, 'dead_letters-*')))
  return (_count_lines(os.path.join(out_dir, 'rows.jsonl')),
          _count_lines(os.path.join(out_dir, 'dead_letters.jsonl')))


def windows(program, out_dir):
  """(event_type, window) count rows written."""
  if program == 'suite':
    return _count_lines(os.path.join(out_dir, 'rows_aggregates-*'))
  if program == 'beam':
    return _count_lines(os.path.join(out_dir, 'window_counts-*'))
  path = os.path.join(out_dir, 'window_counts.json')
  if not os.path.exists(path):
    return 0
  with open(path, encoding='utf-8') as f:
    return len(json.load(f))


def run_one(program, size, input_path, work_dir, timeout, suite_args, shape='many_windows'):
  out_dir = tempfile.mkdtemp(prefix=f'{program}-{shape}-{size}-', dir=work_dir)
  env = dict(os.environ, **{KEY_VARIABLE: BENCH_KEY})
  env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
  load_before = os.getloadavg()[0]
  cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
  m = procmon.run_measured(commands(program, input_path, out_dir, suite_args), env=env,
                           cwd=ROOT, timeout=timeout)
  cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
  # CPU seconds of the program's whole (reaped) process tree: less sensitive to the other
  # work on a shared machine than wall time.
  cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
  rows, dead = outputs(program, out_dir) if not m['timed_out'] else (None, None)
  result = {'program': program, 'shape': shape, 'events': size, 'seconds': round(m['seconds'], 2),
            'peak_rss_mib': round(m['peak_rss_mib'], 1), 'timed_out': m['timed_out'],
            'returncode': m['returncode'], 'rows': rows, 'dead_letters': dead,
            'windows': windows(program, out_dir) if not m['timed_out'] else None,
            'load1_before': round(load_before, 2), 'load1_after': round(os.getloadavg()[0], 2)}
  result['events_per_s'] = round(size / m['seconds'], 1)
  result['cpu_s'] = round(cpu, 2)
  result['events_per_cpu_s'] = round(size / cpu, 1) if cpu > 0 else None
  if m['timed_out']:
    result['bound'] = f'>{m["seconds"]:.0f} s, <{size / m["seconds"]:.0f} events/s'
  elif m['returncode'] != 0:
    result['error'] = m['stderr'][-2000:]
  elif rows + dead != size:
    result['error'] = f'records lost: {rows} rows + {dead} dead letters != {size} events'
  return result


def summarise(runs, sizes, shapes=('many_windows',)):
  """Per shape, size and program: median/min/max events/s and peak RSS; per-repeat ratios."""
  summary = []
  for shape, size in [(shape, size) for shape in shapes for size in sizes]:
    entry = {'shape': shape, 'events': size, 'programs': {}, 'ratios': {}}
    by_program = {}
    for run in runs:
      if run['events'] == size and run.get('shape', 'many_windows') == shape:
        by_program.setdefault(run['program'], []).append(run)
    for program, items in by_program.items():
      rates = [r['events_per_s'] for r in items]
      entry['programs'][program] = {
          'events_per_s_median': round(statistics.median(rates), 1),
          'events_per_s_min': min(rates), 'events_per_s_max': max(rates),
          'seconds_median': round(statistics.median(r['seconds'] for r in items), 2),
          'cpu_s_median': round(statistics.median(r['cpu_s'] for r in items), 2),
          'peak_rss_mib_max': max(r['peak_rss_mib'] for r in items),
          'timed_out': any(r['timed_out'] for r in items),
          'failed': any('error' in r for r in items),
          'rows': items[-1]['rows'], 'dead_letters': items[-1]['dead_letters'],
          'windows': items[-1].get('windows')}
    for other in BASELINES:
      ratios = []
      for repeat in sorted({r['repeat'] for r in by_program.get('suite', [])}):
        suite = [r for r in by_program.get('suite', []) if r['repeat'] == repeat]
        base = [r for r in by_program.get(other, []) if r['repeat'] == repeat]
        if suite and base:
          ratios.append((suite[0]['events_per_s'] / base[0]['events_per_s'],
                         base[0]['timed_out'],
                         base[0]['cpu_s'] / suite[0]['cpu_s'] if suite[0]['cpu_s'] else 0))
      if ratios:
        values = [r for r, _, _ in ratios]
        cpu_values = [c for _, _, c in ratios]
        entry['ratios'][f'suite/{other}'] = {
            'median': round(statistics.median(values), 2), 'min': round(min(values), 2),
            'max': round(max(values), 2),
            # The baseline did not finish: its rate is an upper bound, the ratio a lower one.
            'lower_bound': any(t for _, t, _ in ratios),
            # Same ratio from CPU seconds (events per CPU-second), robust to machine load.
            'cpu_median': round(statistics.median(cpu_values), 2)}
    summary.append(entry)
  return summary


BASELINES = ('beam', 'python', 'python_strict')


def environment():
  import apache_beam
  cpu = ''
  try:
    with open('/proc/cpuinfo', encoding='ascii', errors='replace') as f:
      cpu = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')),
                 '')
  except OSError:
    pass
  mem_gib = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2 ** 30
  return {'python': platform.python_version(), 'apache_beam': apache_beam.__version__,
          'platform': platform.platform(), 'cpus': os.cpu_count(), 'cpu_model': cpu,
          'memory_gib': round(mem_gib, 1)}


def _fmt_rate(p):
  text = f'{p["events_per_s_median"]:,.0f}'
  if p['events_per_s_min'] != p['events_per_s_max']:
    text += f' ({p["events_per_s_min"]:,.0f}–{p["events_per_s_max"]:,.0f})'
  return ('<' + text if p['timed_out'] else text) + (' FAILED' if p['failed'] else '')


def _fmt_ratio(r):
  if r is None:
    return 'n/a'
  text = f'{r["median"]:.2f}×'
  if r['min'] != r['max']:
    text += f' ({r["min"]:.2f}–{r["max"]:.2f})'
  return ('≥' + text) if r['lower_bound'] else text


def markdown(report):
  env, lines = report['environment'], []
  lines.append(f'Run {report["finished"]} with `{report["command"]}`; '
               f'{env["cpus"]} CPUs ({env["cpu_model"]}), {env["memory_gib"]} GiB, Python '
               f'{env["python"]}, apache-beam {env["apache_beam"]}; load average (1 min) '
               f'{report["load_min"]}–{report["load_max"]} during the runs; '
               f'{report["repeat"]} repeat(s) per size, median (min–max).')
  lines.append('')
  lines.append('| shape | events | program | events/s | wall s | CPU s | peak RSS MiB | rows | '
               'dead letters | window counts |')
  lines.append('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|')
  for entry in report['summary']:
    for program in ('suite',) + BASELINES:
      p = entry['programs'].get(program)
      if p is None:
        continue
      wall = (f'>{p["seconds_median"]:.0f}' if p['timed_out'] else f'{p["seconds_median"]:.1f}')
      cpu = f'>{p["cpu_s_median"]:.0f}' if p['timed_out'] else f'{p["cpu_s_median"]:.1f}'
      lines.append(f'| {entry.get("shape", "many_windows")} | {entry["events"]:,} | {program} '
                   f'| {_fmt_rate(p)} | {wall} | {cpu} | '
                   f'{p["peak_rss_mib_max"]:,.0f} | {p["rows"] if p["rows"] is not None else "—"}'
                   f' | {p["dead_letters"] if p["dead_letters"] is not None else "—"}'
                   f' | {p["windows"] if p["windows"] is not None else "—"} |')
  lines.append('')
  lines.append('| shape | events | suite/beam events/s (target ≥ 2.0 ordinary, ≥ 2.5 many '
               'windows) | suite/python events/s | suite/python_strict per CPU-second (target '
               '≥ 0.6) | per CPU-second (beam, python) | suite peak RSS (target < 1024 MiB) |')
  lines.append('|---|---:|---:|---:|---:|---:|---:|')
  for entry in report['summary']:
    suite = entry['programs'].get('suite', {})
    beam, python, strict = (entry['ratios'].get(f'suite/{b}') for b in BASELINES)
    cpu = ', '.join(('n/a' if r is None else ('≥' if r['lower_bound'] else '')
                     + f'{r["cpu_median"]:.2f}×') for r in (beam, python))
    strict_cpu = 'n/a' if strict is None else f'{strict["cpu_median"]:.2f}×'
    lines.append(f'| {entry.get("shape", "many_windows")} | {entry["events"]:,} | '
                 f'{_fmt_ratio(beam)} | {_fmt_ratio(python)} | {strict_cpu} | {cpu} | '
                 f'{suite.get("peak_rss_mib_max", 0):,.0f} MiB |')
  return '\n'.join(lines)


def update_benchmarks_md(path, table):
  with open(path, encoding='utf-8') as f:
    text = f.read()
  if MARK_BEGIN not in text or MARK_END not in text:
    text += f'\n{MARK_BEGIN}\n{MARK_END}\n'
  head, rest = text.split(MARK_BEGIN, 1)
  _, tail = rest.split(MARK_END, 1)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(f'{head}{MARK_BEGIN}\n{table}\n{MARK_END}{tail}')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sizes', default='20000,200000,1000000',
                      help='comma-separated input sizes (events)')
  parser.add_argument('--beam-sizes', default='20000,200000',
                      help='sizes at which the Beam baseline runs on many_windows data (its '
                           'time grows quadratically there: at 1M a capped run says nothing a '
                           '200k one does not); on ordinary data it runs at every size')
  parser.add_argument('--repeat', type=int, default=1, help='runs per program and size')
  parser.add_argument('--programs', default='suite,beam,python,python_strict')
  parser.add_argument('--shapes', default='ordinary,many_windows',
                      help='comma-separated data shapes: ' + ', '.join(SHAPES))
  parser.add_argument('--beam-timeout', type=float, default=45.0,
                      help='seconds before the Beam baseline is stopped on many_windows data '
                           'and reported as a bound')
  parser.add_argument('--timeout', type=float, default=900.0, help='for the other programs')
  parser.add_argument('--data-dir', default=os.path.join(HERE, 'data'))
  parser.add_argument('--work-dir', default=None, help='outputs (default: a temp dir)')
  parser.add_argument('--results', default=os.path.join(HERE, 'results', 'latest.json'))
  parser.add_argument('--markdown', default=os.path.join(ROOT, 'BENCHMARKS.md'),
                      help='BENCHMARKS.md to update ("" for none)')
  parser.add_argument('--suite-arg', action='append', default=[],
                      help='extra flag for files_to_bigquery (repeatable), e.g. '
                           '--suite-arg=--direct_num_workers=2')
  parser.add_argument('--quick', action='store_true',
                      help='2,000 events, one repeat, results in the work dir only')
  args = parser.parse_args(argv)
  sizes = [int(s) for s in args.sizes.split(',')]
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='bench-')
  if args.quick:
    sizes, args.repeat = [2000], 1
    args.data_dir = os.path.join(work_dir, 'data')
    args.results = os.path.join(work_dir, 'latest.json')
    args.markdown = ''
  os.makedirs(args.data_dir, exist_ok=True)
  programs = args.programs.split(',')
  shapes = args.shapes.split(',')
  unknown = [s for s in shapes if s not in SHAPES]
  if unknown:
    parser.error(f'unknown shape(s) {unknown}: choose from {", ".join(SHAPES)}')
  beam_sizes = {int(s) for s in args.beam_sizes.split(',') if s}
  runs = []
  for shape, size in [(shape, size) for shape in shapes for size in sizes]:
    input_path = ensure_input(size, args.data_dir, shape)
    capped = shape == 'many_windows'
    for repeat in range(args.repeat):
      order = programs[repeat % len(programs):] + programs[:repeat % len(programs)]
      for program in order:
        if program == 'beam' and capped and size not in beam_sizes and not args.quick:
          continue
        timeout = args.beam_timeout if program == 'beam' and capped else args.timeout
        run = run_one(program, size, input_path, work_dir, timeout, args.suite_arg, shape)
        run['repeat'] = repeat
        runs.append(run)
        print(json.dumps({k: v for k, v in run.items() if k != 'error'}), flush=True)
        if 'error' in run:
          print(f'{program} failed: {run["error"]}', file=sys.stderr, flush=True)
  loads = [r['load1_before'] for r in runs] + [r['load1_after'] for r in runs]
  report = {
      'finished': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
      'command': 'python bench/run_bench.py ' + ' '.join(argv if argv is not None
                                                         else sys.argv[1:]),
      'environment': environment(), 'repeat': args.repeat, 'sizes': sizes,
      'suite_window_args': SUITE_WINDOW_ARGS, 'suite_extra_args': args.suite_arg,
      'load_min': min(loads), 'load_max': max(loads), 'runs': runs,
      'shapes': shapes, 'summary': summarise(runs, sizes, shapes)}
  os.makedirs(os.path.dirname(args.results), exist_ok=True)
  with open(args.results, 'w', encoding='utf-8') as f:
    json.dump(report, f, indent=1)
  table = markdown(report)
  print(table)
  if args.markdown:
    update_benchmarks_md(args.markdown, table)
  failed = [r for r in runs if 'error' in r]
  return 1 if failed else 0


if __name__ == '__main__':
  sys.exit(main())
