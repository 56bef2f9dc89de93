"""The "Compose your own pipeline" examples (docs/compose.md) run as a user runs them.

``examples/compose_pipeline.py`` (to files, and to the BigQuery emulator) and
``examples/compose_pipeline.yaml`` (``python -m apache_beam.yaml.main`` with the provider file
that ``python -m beam_pipelines.yaml_provider --print-path`` names), on a slice of the sample
events: every record is a row or a dead letter, each step's dead letters are there, and the
per-minute aggregates count exactly the rows written.
"""

import collections
import glob
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = 'an-example-key-of-at-least-16-bytes'


def _records(prefix):
  out = []
  for path in glob.glob(prefix + '-*'):
    with open(path, encoding='utf-8') as f:
      out += [json.loads(line) for line in f if line.strip()]
  return out


@pytest.fixture
def events(tmp_path):
  path = tmp_path / 'events.jsonl'
  with open(os.path.join(REPO, 'samples', 'events.jsonl'), 'rb') as f:
    path.write_bytes(b''.join(f.readlines()[:400]))  # bad lines included
  return str(path)


def _env(extra=None):
  env = dict(os.environ, EXAMPLE_MASKING_KEY=KEY, MASKING_KEY=KEY)
  env.update(extra or {})
  return env


def _check_counts(rows, dead, aggregates, total):
  assert len(rows) + len(dead) == total
  assert sum(a['count'] for a in aggregates) == len(rows)
  assert all('__source_id__' not in json.dumps(r, default=str) for r in rows + dead)


def test_python_example_to_files(events, tmp_path):
  out = str(tmp_path / 'out' / 'events')
  proc = subprocess.run(
      [sys.executable, 'examples/compose_pipeline.py', '--input', events, '--output', out,
       '--masking_key_source', 'env:EXAMPLE_MASKING_KEY'],
      cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  rows, dead = _records(out), _records(out + '_error_records')
  stages = collections.Counter(d['stage'] for d in dead)
  assert stages['scoring'] > 0 and stages['parse'] > 0 and stages['validate'] > 0
  assert {d['errorType'] for d in dead if d['stage'] == 'scoring'} == {
      'exception:ZeroDivisionError'}
  # The example's own step ran on the rows that reached it: the amount per item.
  assert rows and all('region' in r for r in rows)
  _check_counts(rows, dead, _records(out + '_per_minute'), 400)


@pytest.mark.emulator
def test_python_example_to_bigquery(events, tmp_path, bigquery_emulator, bq_dataset):
  table = f'{bigquery_emulator.project}:{bq_dataset}.events'
  out = str(tmp_path / 'out' / 'events')
  proc = subprocess.run(
      [sys.executable, 'examples/compose_pipeline.py', '--input', events, '--output', out,
       '--masking_key_source', 'env:EXAMPLE_MASKING_KEY', '--table', table,
       '--runner=FnApiRunner', f'--project={bigquery_emulator.project}'],
      cwd=REPO, env=_env({'BIGQUERY_EMULATOR_HOST': bigquery_emulator.endpoint}),
      capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  client = bigquery_emulator.client()
  rows = list(client.query(f'SELECT * FROM `{bigquery_emulator.project}.{bq_dataset}.events`')
              .result())
  dead = list(client.query(
      f'SELECT stage, errorType, pipeline FROM '
      f'`{bigquery_emulator.project}.{bq_dataset}.events_error_records`').result())
  assert len(rows) + len(dead) == 400
  # The name is set once, on the pipeline's options: every step's dead letters carry it.
  assert {(d['stage'], d['pipeline']) for d in dead} == {
      (d['stage'], 'compose_example') for d in dead}
  _check_counts([dict(r) for r in rows], [dict(d) for d in dead],
                _records(out + '_per_minute'), 400)


def test_yaml_example(events, tmp_path):
  provider = subprocess.run([sys.executable, '-m', 'beam_pipelines.yaml_provider',
                             '--print-path'], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.strip()
  assert os.path.isfile(provider)
  out = str(tmp_path / 'yaml' / 'events')
  variables = json.dumps({'input': events, 'output': out, 'provider': provider})
  proc = subprocess.run(
      [sys.executable, '-m', 'apache_beam.yaml.main', '--yaml_pipeline_file',
       'examples/compose_pipeline.yaml', '--runner', 'FnApiRunner', '--jinja_variables',
       variables], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  rows, dead = _records(out), _records(out + '_error_records')
  _check_counts(rows, dead, _records(out + '_per_minute'), 400)
  assert all(d['sourceId'].startswith(events + ':') for d in dead if d['stage'] != 'read')
  big = []
  for path in glob.glob(out + '_big_purchases.txt-*'):
    with open(path, encoding='utf-8') as f:
      big += [line.split() for line in f if line.strip()]
  expected = sorted(r['event_id'] for r in rows
                    if r['event_type'] == 'purchase' and r['quantity'] >= 5)
  assert sorted(b[0] for b in big) == expected and expected


def test_provider_file_matches_the_provider_spec():
  import yaml

  from beam_pipelines.transforms.beam_yaml import PROVIDER_TRANSFORMS, provider_path
  with open(provider_path(), encoding='utf-8') as f:
    [spec] = yaml.safe_load(f)
  assert spec['type'] == 'python' and spec['transforms'] == PROVIDER_TRANSFORMS
