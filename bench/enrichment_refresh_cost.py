"""What a refreshing lookup costs per element, by strategy and runner (issue 21).

    python bench/enrichment_refresh_cost.py [--rows 20000] [--repeat 3]

Not part of `make test`. Three measurements, each the best of --repeat runs:

1. The join step's own work (no Beam around it): ``process()`` of the static broadcast join
   (index as a side-input argument), of the worker-refresh join (asks the process's holder,
   a clock read while the version is fresh) and of the side-input-refresh join (picks the
   newest of the window's versions), on the same rows and lookup. µs per row.
2. Whole pipelines on the FnApiRunner (--streaming), rows -> Enrich -> count: static,
   worker refresh (every second), side-input refresh (event join times; the runner runs the
   2 s refresh impulse first). The per-row cost is the slope between a small and a large
   run, so fixed costs (start-up, the impulse's wall time) drop out.
3. The same on the BundleBasedDirectRunner (--streaming, a TestStream of 500-row bundles;
   the side-input refresh gets its ticks from the TestStream, the runner cannot run the
   impulse).
Dataflow is not measured (no network here).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# noqa: E402 below: the imports need the sys.path entry above.
import apache_beam as beam  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402
from apache_beam.testing.test_stream import TestStream  # noqa: E402
from apache_beam.transforms.window import TimestampedValue  # noqa: E402

from beam_pipelines.transforms.enrichment.config import EnrichmentConfig, build_index  # noqa: E402
from beam_pipelines.transforms.enrichment.join import (  # noqa: E402
  _BroadcastJoinFn,
  _RefreshJoinFn,
  _ReloadingJoinFn,
)
from beam_pipelines.transforms.enrichment.sources.file import FileLookupSource  # noqa: E402
from beam_pipelines.transforms.enrichment.transform import EnrichWithSideInput  # noqa: E402

LOOKUP_ROWS = 1000


def lookup_file(folder):
  path = os.path.join(folder, 'lookup.csv')
  with open(path, 'w', encoding='utf-8') as f:
    f.write('code,region\n')
    for i in range(LOOKUP_ROWS):
      f.write(f'C{i},region{i % 7}\n')
  return path


def rows(n):
  return [{'id': i, 'code': f'C{i % (LOOKUP_ROWS + 50)}'} for i in range(n)]  # ~5% misses


def config(path, **kwargs):
  return EnrichmentConfig(source=FileLookupSource(path), keys=('code',), fields=('region',),
                          **kwargs)


def best_of(repeat, fn):
  return min(fn() for _ in range(repeat))


def join_step(path, n, repeat):
  data = rows(n)
  static = _BroadcastJoinFn(config(path))
  index = build_index(FileLookupSource(path).read(), config(path))
  worker = _ReloadingJoinFn(config(path, refresh_seconds=60), uuid.uuid4().hex)
  worker.setup()
  side = _RefreshJoinFn(config(path, refresh_seconds=60, refresh_strategy='side_input'))
  versions = [(time.time(), index)]

  def timed(call):
    def run():
      started = time.perf_counter()
      for row in data:
        for _ in call(row):
          pass
      return (time.perf_counter() - started) / n * 1e6
    return run
  calls = {'static': timed(lambda r: static.process(r, index)),
           'worker': timed(worker.process),
           'side_input': timed(lambda r: side.process((r, None), versions))}
  out = {name: [] for name in calls}
  for _ in range(repeat + 1):  # interleaved, the first round a warm-up
    for name, call in calls.items():
      out[name].append(call())
  return {name: round(min(times[1:]), 3) for name, times in out.items()}


def fnapi_seconds(path, strategy, n):
  options = PipelineOptions(['--runner', 'FnApiRunner', '--streaming'])
  now = time.time()
  if strategy == 'static':
    cfg = config(path)
  elif strategy == 'worker':
    cfg = config(path, refresh_seconds=1, refresh_strategy='worker')
  else:
    cfg = config(path, refresh_seconds=1, refresh_horizon_seconds=2, refresh_time='event',
                 refresh_strategy='side_input')
  data = [TimestampedValue(r, now + 0.5 + (i % 100) / 100) for i, r in enumerate(rows(n))]
  started = time.perf_counter()
  with beam.Pipeline(options=options) as p:
    result = p | beam.Create(data) | EnrichWithSideInput(cfg)
    _ = (result.rows, result.dead_letters) | beam.Flatten() | beam.combiners.Count.Globally()
  return time.perf_counter() - started


def direct_seconds(path, strategy, n, bundle=500):
  options = PipelineOptions(['--runner', 'BundleBasedDirectRunner', '--streaming'])
  data = rows(n)
  stream = TestStream(output_tags=['ticks', 'rows'])
  if strategy == 'side_input':
    stream = stream.add_elements([TimestampedValue(0, 100)], tag='ticks')
  stream = stream.advance_watermark_to(101, tag='ticks')
  for start in range(0, n, bundle):
    stream = stream.add_elements([TimestampedValue(r, 101) for r in data[start:start + bundle]],
                                 tag='rows')
  stream = (stream.advance_watermark_to_infinity(tag='ticks')
            .advance_watermark_to_infinity(tag='rows'))
  started = time.perf_counter()
  p = beam.Pipeline(options=options)
  streams = p | stream
  if strategy == 'static':
    result = streams['rows'] | EnrichWithSideInput(config(path))
  elif strategy == 'worker':
    result = streams['rows'] | EnrichWithSideInput(
        config(path, refresh_seconds=1, refresh_strategy='worker'))
  else:
    result = streams['rows'] | EnrichWithSideInput(
        config(path, refresh_seconds=10, refresh_time='event'), refresh_ticks=streams['ticks'])
  _ = (result.rows, result.dead_letters) | beam.Flatten() | beam.Map(lambda r: None)
  p.run().wait_until_finish()
  return time.perf_counter() - started


def slope(measure, path, strategy, small, large, repeat):
  t_small = best_of(repeat, lambda: measure(path, strategy, small))
  t_large = best_of(repeat, lambda: measure(path, strategy, large))
  return {'us_per_row': round((t_large - t_small) / (large - small) * 1e6, 1),
          f'seconds_{small}': round(t_small, 2), f'seconds_{large}': round(t_large, 2)}


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--rows', type=int, default=20000)
  parser.add_argument('--repeat', type=int, default=3)
  args = parser.parse_args(argv)
  import logging
  logging.getLogger().setLevel(logging.ERROR)
  with tempfile.TemporaryDirectory() as folder:
    path = lookup_file(folder)
    report = {'join_step_us_per_row': join_step(path, args.rows, args.repeat)}
    report['fnapi_runner'] = {s: slope(fnapi_seconds, path, s, args.rows // 10, args.rows,
                                       args.repeat)
                              for s in ('static', 'worker', 'side_input')}
    direct_rows = max(1000, args.rows // 4)
    report['bundle_based_direct_runner'] = {
        s: slope(direct_seconds, path, s, direct_rows // 10, direct_rows, args.repeat)
        for s in ('static', 'worker', 'side_input')}
  print(json.dumps(report, indent=2))
  stats = report['join_step_us_per_row']
  print(f"join step: worker {stats['worker'] - stats['static']:+.3f} µs/row, side_input "
        f"{stats['side_input'] - stats['static']:+.3f} µs/row vs static "
        f"({statistics.mean(stats.values()):.2f} µs/row on average)", file=sys.stderr)


if __name__ == '__main__':
  main(sys.argv[1:])
