"""Configuration errors: one clear line naming the problem, exit code 2, before any pipeline
starts — in-process for every case, and as ``python -m beam_pipelines.<x>`` subprocesses for
a few per entry point."""

import json
import os
import subprocess
import sys
import time

import pytest

from beam_pipelines import files_to_bigquery, replay_dead_letters

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}, {'name': 'name', 'type': 'STRING'}]


@pytest.fixture
def files(tmp_path):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  data = tmp_path / 'in.jsonl'
  data.write_text('{"id": 1}\n')
  bad_policy = tmp_path / 'policy.yaml'
  bad_policy.write_text('fields:\n  name: scramble\n')
  bad_schema = tmp_path / 'bad_schema.json'
  bad_schema.write_text('{"fields": [{"name": "id", "type": "INTEGRAL"}]}')
  udf = tmp_path / 'udf.py'
  udf.write_text('def ok(row):\n  return row\n')
  broken_udf = tmp_path / 'broken_udf.py'
  broken_udf.write_text('import no_such_module_xyz\n')
  return {'schema': str(schema), 'data': str(data), 'policy': str(bad_policy),
          'bad_schema': str(bad_schema), 'udf': str(udf), 'broken_udf': str(broken_udf),
          'tmp': str(tmp_path)}


# (extra argv, the option the one error line must name). {x} is replaced from `files`.
FILES_CASES = [
    (['--schema', '{tmp}/missing_schema.json'], '--schema'),
    (['--schema', '{bad_schema}'], '--schema'),
    (['--output_table', 'not a table'], '--output_table'),
    (['--output_table', 'p:ds'], '--output_table'),
    (['--input_format', 'xml'], '--input_format'),
    (['--unknown_fields', 'maybe'], '--unknown_fields'),
    (['--non_finite_floats', 'sometimes'], '--non_finite_floats'),
    (['--write_method', 'CARRIER_PIGEON'], '--write_method'),
    (['--write_method', 'FILE_LOADS'], '--temp_location'),
    (['--max_record_bytes', 'big'], '--max_record_bytes'),
    (['--masking_policy', '{policy}'], '--masking_policy'),
    (['--masking_policy', '{tmp}/no_policy.yaml'], '--masking_policy'),
    (['--udf', 'no_such_module_xyz:fn'], '--udf'),
    (['--udf', '{tmp}/missing.py:fn'], '--udf'),
    (['--udf', '{udf}:missing_function'], '--udf'),
    (['--udf', '{broken_udf}:fn'], '--udf'),
    (['--udf', 'no-colon'], '--udf'),
    (['--bigquery_retry_budget_seconds', '-1'], '--bigquery_retry_budget_seconds'),
]


def _argv(files, extra):
  base = {'--input': files['data'], '--schema': files['schema'], '--output_table': 'ds.t'}
  for flag, value in zip(extra[::2], extra[1::2], strict=True):
    base[flag] = value.format(**files)
  return [a for kv in base.items() for a in kv]


@pytest.mark.parametrize('extra,names', FILES_CASES, ids=[' '.join(c[0]) for c in FILES_CASES])
def test_files_to_bigquery_config_errors_in_process(files, capsys, monkeypatch, extra, names):
  import apache_beam as beam

  def no_pipeline(*a, **k):
    raise AssertionError('a pipeline was started')
  monkeypatch.setattr(beam, 'Pipeline', no_pipeline)
  with pytest.raises(SystemExit) as info:
    files_to_bigquery.run(_argv(files, extra))
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1, err
  assert err[0].startswith('files_to_bigquery: error: ') and names in err[0], err


def _run_module(module, argv, timeout=120):
  env = dict(os.environ, PYTHONPATH=REPO)
  env.pop('BIGQUERY_EMULATOR_HOST', None)
  started = time.monotonic()
  proc = subprocess.run([sys.executable, '-m', module] + argv, cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=timeout)
  return proc, time.monotonic() - started


@pytest.mark.parametrize('extra,names', [
    (['--schema', '{tmp}/missing_schema.json'], '--schema'),
    (['--output_table', 'not a table'], '--output_table'),
    (['--udf', '{udf}:missing_function'], '--udf'),
])
def test_files_to_bigquery_subprocess_exit_2(files, extra, names):
  proc, _ = _run_module('beam_pipelines.files_to_bigquery', _argv(files, extra))
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and names in lines[0], proc.stderr[-2000:]
  assert proc.stdout == ''  # no summary: no pipeline ran


@pytest.mark.parametrize('argv,names', [
    (['--error_type', 'x', '--replay_to_path', '/tmp/x'], '--dead_letter_path'),
    (['--dead_letter_path', '/tmp/x', '--error_type', 'x', '--replay_to_topic', 'nope'],
     '--replay_to_topic'),
])
def test_replay_dead_letters_subprocess_exit_2(argv, names):
  proc, _ = _run_module('beam_pipelines.replay_dead_letters', argv)
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and names in lines[0], proc.stderr[-2000:]


def test_replay_dead_letters_in_process_both_sources(capsys):
  with pytest.raises(SystemExit) as info:
    replay_dead_letters.run(['--dead_letter_path', '/tmp/x', '--dead_letter_table', 'ds.t',
                             '--error_type', 'x', '--replay_to_path', '/tmp/y'])
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and 'exactly one of --dead_letter_path' in err[0]


def test_forget_subprocess_exit_2():
  proc, _ = _run_module('beam_pipelines.forget', ['--subject_field', 'user.id',
                                                  '--subjects', 'a'])
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('forget: error: '), proc.stderr


PUBSUB_BASE = ['--schema', '{schema}', '--output_table', 'ds.t']
SUB = 'projects/test-project/subscriptions/events'
TOPIC = 'projects/test-project/topics/events'


@pytest.mark.parametrize('extra,names', [
    (['--input_subscription', SUB, '--input_topic', TOPIC], 'exactly one of --input_subscription'),
    ([], 'exactly one of --input_subscription'),
    (['--input_subscription', SUB, '--udf', 'no_such_module_xyz:fn'], '--udf'),
    (['--input_subscription', SUB, '--write_method', 'FILE_LOADS'], '--write_method'),
    (['--input_subscription', SUB, '--output_table', 'bad table'], '--output_table'),
])
def test_pubsub_to_bigquery_config_errors_in_process(files, capsys, extra, names):
  from beam_pipelines import pubsub_to_bigquery
  argv = [a.format(**files) for a in PUBSUB_BASE] + extra
  with pytest.raises(SystemExit) as info:
    pubsub_to_bigquery.start(argv)
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and names in err[0], err


@pytest.mark.parametrize('extra,names', [
    (['--input_subscription', SUB, '--input_topic', TOPIC], 'exactly one of --input_subscription'),
    (['--input_subscription', SUB, '--udf', '{udf}:missing_function'], '--udf'),
])
def test_pubsub_to_bigquery_subprocess_exit_2(files, extra, names):
  argv = [a.format(**files) for a in PUBSUB_BASE + extra]
  proc, seconds = _run_module('beam_pipelines.pubsub_to_bigquery', argv)
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and names in lines[0], proc.stderr[-2000:]
  assert seconds < 60  # it did not start streaming
