"""Batched execution gives what the element-wise path gives, record by record.

``files_to_bigquery --batch_size N`` moves records between the row-by-row steps in batches of
at most N (0: one record at a time). Whatever N is, the run must write the same rows, the
same dead letters (same errorType, stage, payload and sourceId), the same windowed aggregates
and the same counters. Compared on the bad-input corpus (every format) and on random event
files (hypothesis: good and bad lines, event times over several windows, batch sizes that cut
anywhere), with masking, enrichment and windowing on.
"""

import json
import os
import random
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beam_pipelines import files_to_bigquery
from beam_pipelines.transforms.loads import committed_outputs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(REPO, 'samples')
CORPUS = os.path.join(REPO, 'tests', 'corpus')
sys.path.insert(0, CORPUS)
sys.path.insert(0, REPO)
import generate  # noqa: E402  pylint: disable=wrong-import-position
from samples import generate_events  # noqa: E402  pylint: disable=wrong-import-position

KEY_VARIABLE = 'BATCHED_EQUIVALENCE_KEY'
CHAIN_FLAGS = [
    '--masking_policy', os.path.join(SAMPLES, 'masking_policy.yaml'),
    '--masking_key_source', f'env:{KEY_VARIABLE}',
    '--enrichment_source', os.path.join(SAMPLES, 'country_regions.csv'),
    '--enrichment_keys', 'country_code', '--enrichment_fields', 'region',
    '--window', 'fixed', '--window_size', '60s', '--event_time_field', 'event_time',
    '--aggregate_keys', 'event_type', '--aggregate_sum', 'quantity',
]
# Dead-letter fields that depend on when or where the run happened, not on the record.
RUN_DEPENDENT = ('timestamp', 'stacktrace')


@pytest.fixture(autouse=True)
def masking_key(monkeypatch):
  monkeypatch.setenv(KEY_VARIABLE, 'batched-equivalence-key-0123456789')


def _lines(paths):
  out = []
  for path in paths:
    with open(path, encoding='utf-8') as f:
      out.extend(json.loads(line) for line in f if line.strip())
  return out


def _canonical(records):
  return sorted(json.dumps(r, sort_keys=True) for r in records)


def run_outputs(out_dir, argv):
  """(rows, dead letters, aggregates, counters) of one run, in a comparable form."""
  prefix = os.path.join(out_dir, 'rows')
  _, summary = files_to_bigquery.run(
      [*argv, '--output_path', prefix, '--output_format', 'jsonl'], print_summary=False)
  files = committed_outputs(prefix)  # the lake sink's committed run (--load_mode incremental)
  assert files['rows'] or files['dead_letters']
  dead = [{k: v for k, v in d.items() if k not in RUN_DEPENDENT}
          for d in _lines(files['dead_letters'])]
  return {
      'rows': _canonical(_lines(files['rows'])),
      'dead_letters': _canonical(dead),
      'aggregates': _canonical(_lines(files['aggregates'])),
      'counters': summary['counters'],
      'records_read': summary['records_read'],
  }


def assert_same_outputs(tmp_path, argv, batch_sizes):
  element_wise = run_outputs(str(tmp_path / 'b0'), [*argv, '--batch_size', '0'])
  assert element_wise['records_read'] > 0
  for size in batch_sizes:
    batched = run_outputs(str(tmp_path / f'b{size}'), [*argv, '--batch_size', str(size)])
    for what in element_wise:
      assert batched[what] == element_wise[what], f'{what} differ at --batch_size {size}'


@pytest.mark.parametrize('fmt', ['jsonl', 'csv', 'avro', 'parquet'])
def test_the_corpus_gives_the_same_outputs_batched(tmp_path, fmt):
  cases = [c for c in json.load(open(os.path.join(CORPUS, 'manifest.json'),
                                     encoding='utf-8'))['cases'] if c['format'] == fmt]
  os.makedirs(tmp_path / 'in' / fmt)
  for case in cases:
    target = str(tmp_path / 'in' / case['file'])
    if case.get('generated'):
      generate.write_generated(case['generated'], target)
    else:
      with open(os.path.join(CORPUS, case['file']), 'rb') as src, open(target, 'wb') as dst:
        dst.write(src.read())
  schema = os.path.join(CORPUS, 'csv_schema.json' if fmt == 'csv' else 'schema.json')
  argv = ['--input', str(tmp_path / 'in' / fmt / '*'), '--input_format', fmt,
          '--schema', schema]
  assert_same_outputs(tmp_path, argv, batch_sizes=[3, 512])


@st.composite
def event_files(draw):
  """Event lines (good and every kind of bad) over a few minutes, in a random order."""
  count = draw(st.integers(min_value=1, max_value=120))
  seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
  bad_every = draw(st.integers(min_value=2, max_value=12))
  spread = draw(st.sampled_from([0.5, 3, 20]))
  lines = generate_events.generate(count, seed=seed, bad_every=bad_every,
                                   seconds_apart=spread)
  random.Random(seed).shuffle(lines)
  return lines


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(lines=event_files(), size=st.integers(min_value=1, max_value=9))
def test_random_events_give_the_same_outputs_batched(tmp_path_factory, lines, size):
  tmp_path = tmp_path_factory.mktemp('random')
  data = tmp_path / 'events.jsonl'
  data.write_bytes(b'\n'.join(lines) + b'\n')
  argv = ['--input', str(data), '--schema', os.path.join(SAMPLES, 'events_schema.json'),
          *CHAIN_FLAGS]
  assert_same_outputs(tmp_path, argv, batch_sizes=[size])
