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
    # Issue 21: once a 53-line traceback and exit 1 from the graph build.
    (['--input_subscription', SUB, '--enrichment_source', '{schema}', '--enrichment_keys',
      'id', '--enrichment_fields', 'name', '--enrichment_refresh_seconds', '5',
      '--enrichment_refresh_strategy', 'side_input'], '--enrichment_refresh_strategy'),
])
def test_pubsub_to_bigquery_subprocess_exit_2(files, extra, names):
  argv = [a.format(**files) for a in PUBSUB_BASE + extra]
  proc, seconds = _run_module('beam_pipelines.pubsub_to_bigquery', argv)
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and names in lines[0], proc.stderr[-2000:]
  assert seconds < 60  # it did not start streaming


# ---- The whole options surface, through run() with the graph built (issue 21) -------------
# Every option of files_to_bigquery and pubsub_to_bigquery has a bad value here (or a reason
# in NO_BAD_VALUE); each must give one stderr line naming the option and exit code 2, whether
# the config layer or the graph build finds it. The pipeline is built for real; only
# Pipeline.run is replaced, so a bad value that got that far fails the test.

KEY_ENV = 'ISSUE21_TEST_MASKING_KEY'
POLICY = ['--masking_policy', '{good_policy}', '--masking_key_source', f'env:{KEY_ENV}']
WINDOW = ['--window', 'fixed', '--window_size', '1m', '--event_time_field', 'ts']
LOOKUP = ['--enrichment_source', '{lookup}', '--enrichment_keys', 'name',
          '--enrichment_fields', 'region']
REFRESH = LOOKUP + ['--enrichment_refresh_seconds', '5']

# (option, extra argv, what the one line must contain); shared by both pipelines.
SHARED_SURFACE = [
    ('schema', ['--schema', '{tmp}/missing_schema.json'], '--schema'),
    ('output_table', ['--output_table', 'not a table'], '--output_table'),
    ('dead_letter_table', ['--dead_letter_table', 'not a table'], '--dead_letter_table'),
    ('dead_letter_sink', ['--dead_letter_sink', 'email'], '--dead_letter_sink'),
    ('dead_letter_path', ['--dead_letter_path', '{tmp}/dl'], '--dead_letter_path'),
    ('dead_letter_topic', ['--dead_letter_sink', 'pubsub', '--dead_letter_topic', 'nope'],
     '--dead_letter_topic'),
    ('write_method', ['--write_method', 'CARRIER_PIGEON'], '--write_method'),
    ('unknown_fields', ['--unknown_fields', 'maybe'], '--unknown_fields'),
    ('coerce_types', ['--coerce_types', 'sometimes'], '--coerce_types'),
    ('non_finite_floats', ['--non_finite_floats', 'sometimes'], '--non_finite_floats'),
    ('max_record_bytes', ['--max_record_bytes', 'big'], '--max_record_bytes'),
    ('bigquery_retry_budget_seconds', ['--bigquery_retry_budget_seconds', '-1'],
     '--bigquery_retry_budget_seconds'),
    ('masking_policy', ['--masking_policy', '{policy}', '--masking_key_source',
                        f'env:{KEY_ENV}'], '--masking_policy'),
    ('masking_key_source', ['--masking_policy', '{good_policy}', '--masking_key_source',
                            'plain:secret'], '--masking_key_source'),
    ('dead_letter_payload', ['--dead_letter_payload', 'shred'], '--dead_letter_payload'),
    ('erase_list', POLICY + ['--erase_list', 'bigquery:not a table', '--subject_field', 'name'],
     '--erase_list'),
    ('erase_list_refresh_seconds', POLICY + ['--erase_list_refresh_seconds', '-5'],
     '--erase_list_refresh_seconds'),
    ('subject_field', POLICY + ['--subject_field', 'no.such.field'], '--subject_field'),
    ('enrichment_source', ['--enrichment_source', 'lookup.xml', '--enrichment_keys', 'name',
                           '--enrichment_fields', 'region'], '--enrichment_source'),
    ('enrichment_keys', ['--enrichment_source', '{lookup}', '--enrichment_keys', 'a..b',
                         '--enrichment_fields', 'region'], '--enrichment_keys'),
    ('enrichment_fields', ['--enrichment_source', '{lookup}', '--enrichment_keys', 'name',
                           '--enrichment_fields', 'v:w,x:w'], '--enrichment_fields'),
    ('enrichment_prefix', LOOKUP + ['--enrichment_prefix', 'a.b'], '--enrichment_prefix'),
    ('enrichment_missing', LOOKUP + ['--enrichment_missing', 'ignore'], '--enrichment_missing'),
    ('enrichment_collision', LOOKUP + ['--enrichment_collision', 'first'],
     '--enrichment_collision'),
    ('enrichment_duplicates', LOOKUP + ['--enrichment_duplicates', 'first'],
     '--enrichment_duplicates'),
    ('enrichment_mode', LOOKUP + ['--enrichment_mode', 'hash'], '--enrichment_mode'),
    ('enrichment_refresh_seconds', LOOKUP + ['--enrichment_refresh_seconds', 'soon'],
     '--enrichment_refresh_seconds'),
    ('enrichment_refresh_strategy', REFRESH + ['--enrichment_refresh_strategy', 'nightly'],
     '--enrichment_refresh_strategy'),
    ('enrichment_refresh_horizon_seconds',
     REFRESH + ['--enrichment_refresh_horizon_seconds', '1'],
     '--enrichment_refresh_horizon_seconds'),
    ('enrichment_refresh_time', REFRESH + ['--enrichment_refresh_time', 'ingest'],
     '--enrichment_refresh_time'),
    ('enrichment_version_field', LOOKUP + ['--enrichment_version_field', 'v'],
     '--enrichment_version_field'),
    ('window', ['--window', 'hourly'], '--window'),
    ('window_size', ['--window', 'fixed', '--window_size', 'fast'], '--window_size'),
    ('window_period', ['--window', 'sliding', '--window_size', '1m', '--window_period', 'x'],
     '--window_period'),
    ('session_gap', ['--window', 'session', '--session_gap', 'x'], '--session_gap'),
    ('event_time_field', ['--window', 'fixed', '--window_size', '1m', '--event_time_field',
                          'name'], '--event_time_field'),
    ('allowed_lateness', WINDOW + ['--allowed_lateness', 'x'], '--allowed_lateness'),
    ('early_firing_after', WINDOW + ['--early_firing_after', 'x'], '--early_firing_after'),
    ('early_firing_count', WINDOW + ['--early_firing_count', 'x'], '--early_firing_count'),
    ('late_firing_count', WINDOW + ['--late_firing_count', 'x'], '--late_firing_count'),
    ('accumulation', WINDOW + ['--accumulation', 'x'], '--accumulation'),
    ('late_capture', WINDOW + ['--late_capture', 'x'], '--late_capture'),
    ('late_gate_shards', WINDOW + ['--late_gate_shards', 'x'], '--late_gate_shards'),
    ('aggregate_keys', WINDOW + ['--aggregate_keys', 'nope'], '--aggregate_keys'),
    ('aggregate_sum', WINDOW + ['--aggregate_sum', 'name'], '--aggregate_sum'),
    ('aggregate_min', WINDOW + ['--aggregate_min', 'tags'], '--aggregate_min'),
    ('aggregate_max', WINDOW + ['--aggregate_max', 'nope'], '--aggregate_max'),
    ('aggregate_distinct', WINDOW + ['--aggregate_distinct', 'nope'], '--aggregate_distinct'),
    ('aggregate_table', WINDOW + ['--aggregate_table', 'not a table'], '--aggregate_table'),
    ('quality_rules', ['--quality_rules', '{tmp}/missing_rules.yaml'], '--quality_rules'),
    ('quality_table', ['--quality_rules', '{rules}', '--quality_table', 'not a table'],
     '--quality_table'),
    ('schema_drift', ['--schema_drift', 'sometimes'], '--schema_drift'),
    ('summary_path', ['--summary_path', '{tmp}'], '--summary_path'),
    ('summary_interval_seconds', ['--summary_interval_seconds', 'inf'],
     '--summary_interval_seconds'),
    ('udf', ['--udf', 'no-colon'], '--udf'),
    ('quality_rules (slas)', ['--quality_rules', '{bad_sla_rules}'], "SLA 'burst'"),
    ('alert_table', ['--quality_rules', '{sla_rules}', '--alert_table', 'not a table'],
     '--alert_table'),
    ('alert_table (no slas)', ['--alert_table', 'my-project:ds.alerts'], '--alert_table'),
    ('alert_topic', ['--quality_rules', '{sla_rules}', '--alert_topic', 'alerts'],
     '--alert_topic'),
    ('alert_topic (no slas)', ['--alert_topic', 'projects/p/topics/alerts'], '--alert_topic'),
    ('alert_webhook', ['--quality_rules', '{sla_rules}', '--alert_webhook', 'ftp://x/y'],
     '--alert_webhook'),
    ('alert_delivery_attempts', ['--alert_delivery_attempts', '0'],
     '--alert_delivery_attempts'),
    ('report_path', ['--report_path', '{tmp}'], '--report_path'),
    ('verbose', ['--verbose', 'loud'], '--verbose'),
    ('partition_field', ['--partition_field', 'name'], '--partition_field'),
    ('partition_granularity', ['--partition_field', 'ts', '--partition_granularity', 'WEEK'],
     '--partition_granularity'),
    ('clustering_fields', ['--clustering_fields', 'tags'], '--clustering_fields'),
    ('partition_expiration_days', ['--partition_expiration_days', '30'],
     '--partition_expiration_days'),
    ('dead_letter_retention_days', ['--dead_letter_retention_days', '-3'],
     '--dead_letter_retention_days'),
    ('batch_size', ['--batch_size', 'many'], '--batch_size'),
]
FILES_SURFACE = [
    ('input', ['--input', ''], '--input'),
    ('input_format', ['--input_format', 'xml'], '--input_format'),
    ('csv_delimiter', ['--input_format', 'csv', '--csv_delimiter', ';;'], '--csv_delimiter'),
    ('csv_quote_char', ['--input_format', 'csv', '--csv_quote_char', "''"], '--csv_quote_char'),
    ('csv_header', ['--input_format', 'csv', '--csv_header', 'maybe'], '--csv_header'),
    ('csv_columns', ['--input_format', 'csv', '--csv_header', 'false', '--csv_columns',
                     'id,id'], '--csv_columns'),
    ('csv_encoding', ['--input_format', 'csv', '--csv_encoding', 'klingon'], '--csv_encoding'),
    ('input_split_bytes', ['--input_split_bytes', 'lots'], '--input_split_bytes'),
    ('output_path', ['--output_path', '{tmp}/lake'], '--output_path'),
    ('output_format', ['--output_table', '', '--output_path', '{tmp}/lake', '--output_format',
                       'xlsx'], '--output_format'),
    ('output_shards', ['--output_table', '', '--output_path', '{tmp}/lake', '--output_shards',
                       'many'], '--output_shards'),
    ('enrichment_refresh_seconds (batch)', REFRESH, '--enrichment_refresh_seconds'),
    ('fail_on_alert', ['--quality_rules', '{sla_rules}', '--fail_on_alert', 'sometimes'],
     '--fail_on_alert'),
    ('fail_on_alert (no slas)', ['--fail_on_alert', 'any'], '--fail_on_alert'),
    ('load_mode', ['--load_mode', 'upsert'], '--load_mode'),
    ('changed_files', ['--changed_files', 'ignore'], '--changed_files'),
    ('load_manifest_table', ['--load_manifest_table', 'no dots'], '--load_manifest_table'),
    ('source_file_column', ['--source_file_column', '1st'], '--source_file_column'),
    ('input_notifications', ['--input_notifications', 'landing'], '--input_notifications'),
    ('input_notifications (append)', ['--input_notifications', SUB, '--load_mode', 'append'],
     '--input_notifications needs --load_mode incremental'),
    ('input_notifications (lake)', ['--output_table', '', '--output_path', '{tmp}/lake',
                                    '--input_notifications', SUB], '--output_path'),
    ('input_notifications (FnApiRunner)', ['--input_notifications', SUB, '--runner',
                                           'FnApiRunner'], '--runner'),
    ('commit_interval', ['--input_notifications', SUB, '--commit_interval', 'soon'],
     '--commit_interval'),
]
PUBSUB_SURFACE = [
    ('input_subscription', ['--input_subscription', 'events'], '--input_subscription'),
    ('input_topic', ['--input_subscription', '', '--input_topic', 'events'], '--input_topic'),
    ('dedupe', ['--id_attribute', 'event_id', '--dedupe', 'maybe'], '--dedupe'),
    ('dedupe_window', ['--id_attribute', 'event_id', '--dedupe_window', 'x'],
     '--dedupe_window'),
    ('dedupe_shards', ['--id_attribute', 'event_id', '--dedupe_shards', '0'],
     '--dedupe_shards'),
    ('pubsub_pull_timeout', ['--pubsub_pull_timeout', '45s'], '--pubsub_pull_timeout'),
    ('pubsub_pull_grace', ['--pubsub_pull_grace', '0'], '--pubsub_pull_grace'),
    ('write_method (streaming)', ['--write_method', 'FILE_LOADS'], '--write_method'),
    ('quality_rules (streaming)', ['--quality_rules', '{batch_rules}'], '--quality_rules'),
    ('enrichment_mode (streaming)', LOOKUP + ['--enrichment_mode', 'keyed'],
     '--enrichment_mode'),
    ('enrichment_refresh_strategy (DirectRunner)',
     REFRESH + ['--enrichment_refresh_strategy', 'side_input'],
     '--enrichment_refresh_strategy'),
    ('enrichment_refresh_time (DirectRunner)', REFRESH + ['--enrichment_refresh_time', 'event'],
     '--enrichment_refresh_time'),
    ('runner', ['--runner', 'FnApiRunner'], '--runner'),
    ('fail_on_alert', ['--quality_rules', '{sla_rules}', '--fail_on_alert', 'any'],
     '--fail_on_alert'),
]
# Options whose every value is acceptable, and why.
NO_BAD_VALUE = {
    'pipeline_name': 'any text names the pipeline in dead letters',
    'id_attribute': 'any attribute name (empty: none)',
    'timestamp_attribute': 'any attribute name (empty: none)',
}


@pytest.fixture
def surface_files(files, tmp_path, monkeypatch):
  monkeypatch.setenv(KEY_ENV, 'a-test-key-0123456789abcdef-0123456789')
  schema = tmp_path / 'surface_schema.json'
  schema.write_text(json.dumps([
      {'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}, {'name': 'name', 'type': 'STRING'},
      {'name': 'ts', 'type': 'TIMESTAMP'}, {'name': 'tags', 'type': 'STRING',
                                            'mode': 'REPEATED'}]))
  policy = tmp_path / 'good_policy.yaml'
  policy.write_text('version: 1\ndefault: keep\nfields:\n  name: hmac\n')
  lookup = tmp_path / 'lookup.jsonl'
  lookup.write_text('{"name": "a", "region": "r"}\n')
  rules = tmp_path / 'rules.yaml'
  rules.write_text('window_seconds: 60\nrules:\n  - {id: n, kind: not_null, path: name}\n')
  batch_rules = tmp_path / 'batch_rules.yaml'
  batch_rules.write_text('rules:\n  - {id: n, kind: not_null, path: name}\n')
  sla_rules = tmp_path / 'sla_rules.yaml'
  sla_rules.write_text('window_seconds: 60\nslas:\n  - {volume: {min: 1}}\n')
  bad_sla_rules = tmp_path / 'bad_sla_rules.yaml'
  bad_sla_rules.write_text('window_seconds: 60\nslas:\n  - {id: burst, volume: {anomaly: lstm}}\n')
  return dict(files, schema=str(schema), good_policy=str(policy), lookup=str(lookup),
              rules=str(rules), batch_rules=str(batch_rules), sla_rules=str(sla_rules),
              bad_sla_rules=str(bad_sla_rules))


def _surface_argv(base, extra, values):
  argv = dict(base)
  for flag, value in zip(extra[::2], extra[1::2], strict=True):
    argv[flag] = value.format(**values)
  return [a for kv in argv.items() if kv[1] != '' or kv[0] in extra for a in kv]


def _pipeline_flags(module):
  import argparse
  parser = argparse.ArgumentParser()
  for cls in module.OPTIONS_CLASSES:
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  return {a.dest for a in parser._actions if a.dest != 'help'}  # pylint: disable=protected-access


@pytest.mark.parametrize('name', ['files_to_bigquery', 'pubsub_to_bigquery'])
def test_the_surface_table_covers_every_option(name):
  module = __import__(f'beam_pipelines.{name}', fromlist=['OPTIONS_CLASSES'])
  own = FILES_SURFACE if name == 'files_to_bigquery' else PUBSUB_SURFACE
  covered = {option for option, _, _ in SHARED_SURFACE + own if ' ' not in option}
  assert _pipeline_flags(module) - covered == set(NO_BAD_VALUE) & _pipeline_flags(module)


SURFACE_CASES = ([('files_to_bigquery',) + case for case in SHARED_SURFACE + FILES_SURFACE]
                 + [('pubsub_to_bigquery',) + case for case in SHARED_SURFACE + PUBSUB_SURFACE])


@pytest.mark.parametrize('name,option,extra,names', SURFACE_CASES,
                         ids=[f'{c[0][:5]}-{c[1]}' for c in SURFACE_CASES])
def test_every_bad_option_is_one_line_and_exit_2_even_from_the_graph(
    surface_files, capsys, monkeypatch, name, option, extra, names):
  import apache_beam as beam

  def no_run(*unused_args, **unused_kwargs):
    raise AssertionError(f'{option}: the pipeline was built and about to run')
  monkeypatch.setattr(beam.Pipeline, 'run', no_run)
  module = __import__(f'beam_pipelines.{name}', fromlist=['run'])
  base = {'--schema': surface_files['schema'], '--output_table': 'my-project:ds.t'}
  if name == 'files_to_bigquery':
    base = dict({'--input': surface_files['data']}, **base)
  else:
    base = dict({'--input_subscription': SUB}, **base)
  argv = _surface_argv(base, extra, surface_files)
  with pytest.raises(SystemExit) as info:
    module.run(argv) if name == 'files_to_bigquery' else module.start(argv)
  assert info.value.code == 2, argv
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1, err
  assert err[0].startswith(f'{name}: error: ') and names in err[0], err


def test_an_error_raised_while_the_graph_is_built_is_one_line_and_exit_2(tmp_path, capsys):
  """The net behind the config checks: a transform refusing its configuration in expand()
  (here a refreshing lookup in a batch pipeline, which the options layer would have caught)
  ends the run with one line and exit code 2, not a traceback."""
  import apache_beam as beam

  from beam_pipelines.runtime.cli import option_errors_while_building
  from beam_pipelines.transforms.enrichment import EnrichmentConfig, EnrichWithSideInput
  from beam_pipelines.transforms.enrichment.sources.file import FileLookupSource
  lookup = tmp_path / 'l.jsonl'
  lookup.write_text('{"k": "a", "v": 1}\n')
  config = EnrichmentConfig(source=FileLookupSource(str(lookup)), keys=('k',), fields=('v',),
                            refresh_seconds=5)
  p = beam.Pipeline('FnApiRunner')
  with pytest.raises(SystemExit) as info:
    with option_errors_while_building('some_pipeline'):
      _ = p | beam.Create([{'k': 'a'}]) | EnrichWithSideInput(config)
  assert info.value.code == 2
  assert capsys.readouterr().err.splitlines() == [
      'some_pipeline: error: refresh_seconds needs a streaming pipeline (--streaming); a '
      'batch pipeline loads the lookup once']
