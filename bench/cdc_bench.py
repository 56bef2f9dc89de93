"""The CDC benchmark: cdc_to_bigquery against a hand-written Beam + MERGE baseline, in the same
run, against the same local BigQuery emulator; and the cost of one merge per interval.

    python bench/cdc_bench.py                 # what `make bench-cdc` runs
    python bench/cdc_bench.py --quick         # a smoke test of the harness (2,000 changes)
    python bench/cdc_bench.py --sizes 20000 --repeat 3

Part 1, throughput. For each size, a seeded shuffled Debezium stream (PostgreSQL source, no
schema envelope; creates, updates, ~4% deletes, ~2% exact redeliveries over size/5 keys)
is replicated, rotating the order each repeat, by:
  suite          python -m beam_pipelines.cdc_to_bigquery (replica + change log)
  suite+history  the same with --history_table (SCD2 as well)
  baseline       bench/cdc_baseline_beam.py (Beam FILE_LOADS into a staging table, then one
                 DataflowTemplates-style MERGE: replica only, no validation, no change log)
each into fresh tables, as a subprocess; changes/s = input changes / wall seconds (start-up
included). The replicas must agree (checked). Ratios suite/baseline are per repeat.

Part 2, merge cost per interval. ``Merger`` (the suite's merge step) applies batches of
N changes (N = the changes one interval collects) to a replica that already holds
--table_rows keys, with and without history; seconds per merge, median of --merges.

Writes bench/results/cdc_latest.json (or --work-dir/cdc_latest.json).
"""

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
import procmon  # noqa: E402  pylint: disable=wrong-import-position

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'name', 'type': 'STRING'}, {'name': 'tier', 'type': 'STRING'},
          {'name': 'balance', 'type': 'NUMERIC'}, {'name': 'updated_at', 'type': 'TIMESTAMP'}]


def generate(size, seed=19):
  """``size`` Debezium change lines over size/5 keys: shuffled, with exact redeliveries."""
  rng = random.Random(seed)
  keys = max(1, size // 5)
  lines, live, lsn, ts = [], set(), 1000, 1_780_000_000_000
  distinct = size - size // 50
  while len(lines) < distinct:
    key = rng.randrange(1, keys + 1)
    lsn += rng.randrange(1, 50)
    ts += rng.randrange(0, 20)
    if key in live and rng.random() < 0.04:
      op, after, before = 'd', None, {'id': key}
      live.discard(key)
    else:
      op = 'u' if key in live else 'c'
      live.add(key)
      after = {'id': key, 'name': f'customer {key}', 'tier': rng.choice(['free', 'pro']),
               'balance': round(rng.uniform(-100, 10000), 2),
               'updated_at': datetime.datetime.fromtimestamp(
                   ts / 1000, datetime.timezone.utc).isoformat().replace('+00:00', 'Z')}
      before = None
    lines.append(json.dumps({'before': before, 'after': after, 'op': op, 'ts_ms': ts + 3,
                             'source': {'connector': 'postgresql', 'ts_ms': ts,
                                        'lsn': lsn}}, separators=(',', ':')))
  lines += rng.sample(lines, size - distinct)
  rng.shuffle(lines)
  return lines


def _run(program, input_path, table, temp, env):
  if program == 'baseline':
    command = [sys.executable, os.path.join(HERE, 'cdc_baseline_beam.py'), '--input',
               input_path, '--table', table, '--temp', temp]
  else:
    schema = os.path.join(temp, 'schema.json')
    with open(schema, 'w', encoding='utf-8') as f:
      json.dump(SCHEMA, f)
    command = [sys.executable, '-m', 'beam_pipelines.cdc_to_bigquery', '--input', input_path,
               '--schema', schema, '--primary_key', 'id', '--output_table', table,
               '--temp_location', temp]
    if program == 'suite+history':
      command += ['--history_table', table + '_history']
  result = procmon.run_measured(command, env=env, cwd=ROOT)
  if result['returncode'] != 0:
    raise RuntimeError(f'{program} failed:\n{result["stderr"][-3000:]}')
  return result


def _replica(client, table):
  ref = table.replace(':', '.')
  return sorted((r['id'], r['name'], r['tier']) for r in client.query(
      f'SELECT id, name, tier FROM `{ref}`').result())


def throughput(client, project, sizes, repeat, programs, work, env):
  runs = []
  for size in sizes:
    lines = generate(size)
    input_path = os.path.join(work, f'changes-{size}.jsonl')
    with open(input_path, 'w', encoding='utf-8') as f:
      f.write('\n'.join(lines) + '\n')
    for attempt in range(repeat):
      order = programs[attempt % len(programs):] + programs[:attempt % len(programs)]
      replicas = {}
      for program in order:
        dataset = f'b{size}_{attempt}_{program.replace("+", "_")}'
        client.create_dataset(dataset, exists_ok=True)
        table = f'{project}:{dataset}.customers'
        temp = tempfile.mkdtemp(dir=work)
        result = _run(program, input_path, table, temp, env)
        replicas[program] = _replica(client, table)
        runs.append({'program': program, 'size': size, 'repeat': attempt,
                     'seconds': round(result['seconds'], 2),
                     'peak_rss_mib': round(result['peak_rss_mib']),
                     'changes_per_second': round(size / result['seconds'], 1),
                     'replica_rows': len(replicas[program])})
        print(f'  {program:<14} {size:>8} changes  {result["seconds"]:7.1f} s  '
              f'{size / result["seconds"]:8.0f} changes/s  replica {len(replicas[program])}',
              flush=True)
      first = next(iter(replicas.values()))
      if any(r != first for r in replicas.values()):
        raise RuntimeError(f'the replicas disagree at {size} changes (repeat {attempt})')
  return runs


def merge_cost(client, project, per_interval, table_rows, merges, work):
  """Seconds per merge of N changes into a replica of ``table_rows`` keys."""
  from beam_pipelines.transforms.cdc import MergeConfig, Merger, encode_order, to_changelog_row
  from beam_pipelines.transforms.cdc.change import micros_text
  results = []
  counter = [0]

  def change(key, op, micros):
    counter[0] += 1
    row = {'id': key, 'name': f'n{counter[0]}', 'tier': 'pro', 'balance': '1.50',
           'updated_at': micros_text(micros)} if op != 'd' else {'id': key}
    row['_cdc'] = {'op': op, 'order': encode_order([micros * 1000, counter[0]]),
                   'position': {'source_ts_ns': micros * 1000, 'lsn': counter[0]},
                   'source_ts': micros_text(micros), 'source': {}, 'source_id': 'bench',
                   'read_at': micros_text(micros)}
    return to_changelog_row(row, ('id',))

  for history in (False, True):
    dataset = f'merge_cost_{"history" if history else "replica"}'
    client.create_dataset(dataset, exists_ok=True)
    config = MergeConfig(replica=f'{project}:{dataset}.r', changelog=f'{project}:{dataset}.l',
                         history=f'{project}:{dataset}.h' if history else None,
                         primary_key=('id',), staging_location=os.path.join(work, dataset))
    merger = Merger(config, SCHEMA).open()
    micros = 1_780_000_000_000_000
    merger.merge([change(k, 'c', micros) for k in range(1, table_rows + 1)])
    rng = random.Random(7)
    for n in per_interval:
      seconds = []
      for _ in range(merges):
        micros += 1_000_000
        batch = [change(rng.randrange(1, table_rows + 1), rng.choice('uuuud'), micros + i)
                 for i in range(n)]
        seconds.append(merger.merge(batch).seconds)
      median = statistics.median(seconds)
      results.append({'history': history, 'changes_per_merge': n, 'table_rows': table_rows,
                      'seconds_median': round(median, 3), 'seconds_min': min(seconds),
                      'seconds_max': max(seconds)})
      print(f'  merge of {n:>6} changes into {table_rows} keys '
            f'{"(+history)" if history else "          "}: median {median:6.2f} s '
            f'(min {min(seconds):.2f}, max {max(seconds):.2f})', flush=True)
  return results


def _ratios(runs, numerator, denominator):
  out = {}
  for size in sorted({r['size'] for r in runs}):
    values = []
    for attempt in sorted({r['repeat'] for r in runs}):
      pick = {r['program']: r for r in runs if r['size'] == size and r['repeat'] == attempt}
      if numerator in pick and denominator in pick:
        values.append(pick[numerator]['changes_per_second'] /
                      pick[denominator]['changes_per_second'])
    if values:
      out[str(size)] = {'median': round(statistics.median(values), 3),
                        'min': round(min(values), 3), 'max': round(max(values), 3)}
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sizes', default='20000,100000')
  parser.add_argument('--repeat', type=int, default=2)
  parser.add_argument('--programs', default='suite,suite+history,baseline')
  parser.add_argument('--per_interval', default='100,1000,10000')
  parser.add_argument('--table_rows', type=int, default=50000)
  parser.add_argument('--merges', type=int, default=3)
  parser.add_argument('--quick', action='store_true', help='2,000 changes, one repeat')
  parser.add_argument('--work-dir', default=None)
  args = parser.parse_args(argv)
  if args.quick:
    args.sizes, args.repeat, args.per_interval = '2000', 1, '100'
    args.table_rows, args.merges = 2000, 1
  work = args.work_dir or tempfile.mkdtemp(prefix='cdc-bench-')
  os.makedirs(work, exist_ok=True)
  from beam_pipelines.tools.emulators import BigQueryEmulator, prepare_duckdb_extensions
  prepare_duckdb_extensions()
  with BigQueryEmulator(log_dir=work) as bq:
    env = dict(os.environ, **bq.environment(), NO_GCE_CHECK='True',
               GCE_METADATA_HOST='127.0.0.1:9', GCE_METADATA_IP='127.0.0.1:9')
    os.environ.update(env)
    client = bq.client()
    print('Part 1: throughput (wall time of each run, start-up included)')
    runs = throughput(client, bq.project, [int(s) for s in args.sizes.split(',')],
                      args.repeat, args.programs.split(','), work, env)
    print('Part 2: the cost of one merge (what each --merge_interval pays)')
    costs = merge_cost(client, bq.project, [int(n) for n in args.per_interval.split(',')],
                       args.table_rows, args.merges, work)
  report = {
      'when': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
      'machine': {'cpus': os.cpu_count(), 'python': platform.python_version()},
      'runs': runs, 'merge_cost': costs,
      'ratios': {'suite/baseline': _ratios(runs, 'suite', 'baseline'),
                 'suite+history/baseline': _ratios(runs, 'suite+history', 'baseline')}}
  out = os.path.join(args.work_dir or os.path.join(HERE, 'results'), 'cdc_latest.json')
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, 'w', encoding='utf-8') as f:
    json.dump(report, f, indent=2)
  print('ratios (changes/s over the baseline\'s, per size: median [min, max]):')
  for name, per_size in report['ratios'].items():
    for size, r in per_size.items():
      print(f'  {name:<24} {size:>8}: {r["median"]:.2f} [{r["min"]:.2f}, {r["max"]:.2f}]')
  print(f'wrote {out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
