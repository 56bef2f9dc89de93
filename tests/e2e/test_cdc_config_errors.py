"""cdc_to_bigquery's configuration errors: one line naming the option, exit code 2, before any
pipeline starts (in process, and once as ``python -m``)."""

import json
import os
import subprocess
import sys

import pytest

from beam_pipelines import cdc_to_bigquery

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}, {'name': 'name', 'type': 'STRING'},
          {'name': 'score', 'type': 'FLOAT64'}]
SUB = 'projects/test-project/subscriptions/changes'


@pytest.fixture
def files(tmp_path):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  reserved = tmp_path / 'reserved.json'
  reserved.write_text(json.dumps(SCHEMA + [{'name': 'valid_from', 'type': 'TIMESTAMP'}]))
  policy = tmp_path / 'policy.yaml'
  policy.write_text('default: keep\nfields:\n  id: redact\n')
  data = tmp_path / 'changes.jsonl'
  data.write_text('null\n')
  return {'schema': str(schema), 'reserved': str(reserved), 'policy': str(policy),
          'data': str(data)}


CASES = [
    (['--primary_key', ''], '--primary_key is required'),
    (['--primary_key', 'nope'], '--primary_key'),
    (['--primary_key', 'score'], '--primary_key'),  # FLOAT64 cannot be a key
    (['--cdc_format', 'maxwell'], '--cdc_format'),
    (['--merge_interval', 'soon'], '--merge_interval'),
    (['--merge_interval', '0s'], '--merge_interval'),
    (['--merge_max_changes', '0'], '--merge_max_changes'),
    (['--apply_mode', 'upsert'], '--apply_mode'),
    (['--apply_mode', 'storage_write_cdc'], '--apply_mode storage_write_cdc runs on Dataflow'),
    (['--apply_mode', 'storage_write_cdc', '--history_table', 'ds.h'], '--history_table'),
    (['--apply_truncate', 'maybe'], '--apply_truncate'),
    (['--cdc_temporal_mode', 'seconds'], '--cdc_temporal_mode'),
    (['--cdc_decimal_mode', 'float'], '--cdc_decimal_mode'),
    (['--op_field', 'op'], '--op_field is for --cdc_format generic'),
    (['--cdc_format', 'generic', '--sequence_fields', 'seq'], '--op_field is required'),
    (['--cdc_format', 'generic', '--op_field', 'op', '--sequence_fields', 'seq',
      '--history_table', 'ds.h'], '--source_time_field'),
    (['--history_table', 'ds.t'], '--output_table'),  # the replica twice
    (['--changelog_table', 'not a table'], '--changelog_table'),
    (['--schema', '{reserved}'], '--schema'),  # valid_from is reserved
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:CDC_CFG_KEY'],
     '--masking_policy'),  # the key redacted: rows would merge
    (['--input_subscription', SUB], '--input'),  # both inputs
    (['--write_method', 'STORAGE_WRITE_API'], '--write_method'),
]


@pytest.mark.parametrize('extra,message', CASES, ids=[' '.join(c[0]) for c in CASES])
def test_config_errors_exit_2_naming_the_option(files, capsys, monkeypatch, extra, message):
  import apache_beam as beam
  monkeypatch.setenv('CDC_CFG_KEY', 'cdc-config-test-key-0123456789')

  def no_pipeline(*a, **k):
    raise AssertionError('a pipeline was started')
  monkeypatch.setattr(beam, 'Pipeline', no_pipeline)
  base = {'--input': files['data'], '--schema': files['schema'], '--primary_key': 'id',
          '--output_table': 'ds.t'}
  extra = [e.format(**files) for e in extra]
  for flag, value in zip(extra[::2], extra[1::2], strict=True):
    base[flag] = value
  with pytest.raises(SystemExit) as info:
    cdc_to_bigquery.run([a for kv in base.items() for a in kv])
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1, err
  assert err[0].startswith('cdc_to_bigquery: error: ') and message in err[0], err


def test_no_input_at_all_exits_2(files, capsys):
  with pytest.raises(SystemExit) as info:
    cdc_to_bigquery.run(['--schema', files['schema'], '--primary_key', 'id',
                         '--output_table', 'ds.t'])
  assert info.value.code == 2
  assert 'one of --input, --input_subscription' in capsys.readouterr().err


def test_subprocess_exit_2(files):
  env = dict(os.environ, PYTHONPATH=REPO)
  env.pop('BIGQUERY_EMULATOR_HOST', None)
  proc = subprocess.run([sys.executable, '-m', 'beam_pipelines.cdc_to_bigquery', '--input',
                         files['data'], '--schema', files['schema'], '--output_table', 'ds.t',
                         '--primary_key', 'id', '--merge_interval', 'soon'],
                        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and '--merge_interval' in lines[0] and proc.stdout == ''
