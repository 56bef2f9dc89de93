"""Flags as a user types them: a typo is an error naming the closest option (exit 2), Beam's
own options pass, values starting with ``-`` work in both forms, and an input that matches
no file is one line naming the option before any pipeline starts."""

import json
import logging
import os
import subprocess
import sys
import time

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import files_to_bigquery, pubsub_to_bigquery, replay_dead_letters
from beam_pipelines.options import ConfigError
from beam_pipelines.runtime import flags, inputs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}, {'name': 'name', 'type': 'STRING'}]


@pytest.fixture
def files(tmp_path):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  data = tmp_path / 'in.jsonl'
  data.write_text('{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n')
  (tmp_path / 'folder').mkdir()
  return {'schema': str(schema), 'data': str(data), 'tmp': str(tmp_path)}


def _base(files, **overrides):
  argv = {'--input': files['data'], '--schema': files['schema'],
          '--output_path': os.path.join(files['tmp'], 'out', 'rows'),
          '--output_format': 'jsonl'}
  argv.update(overrides)
  return [a for kv in argv.items() for a in kv]


def _one_error_line(capsys, run, argv, monkeypatch):
  def no_pipeline(*a, **k):
    raise AssertionError('a pipeline was started')
  monkeypatch.setattr(beam, 'Pipeline', no_pipeline)
  with pytest.raises(SystemExit) as info:
    run(argv)
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1, err
  return err[0]


@pytest.mark.parametrize('extra,expected', [
    (['--output_fromat', 'avro'], 'unknown option --output_fromat (did you mean --output_format?)'),
    (['--inptu', 'x'], 'unknown option --inptu (did you mean --input?)'),
    (['--runer', 'DataflowRunner'], 'unknown option --runer (did you mean --runner?)'),
    (['--input_subscription', 'projects/p/subscriptions/s'],
     '--input_subscription is an option of another pipeline of the suite'),
    (['-x'], 'unknown option -x'),
    (['stray'], "unexpected argument 'stray'"),
    (['--csv_header'], '--csv_header needs a value'),
    (['--window_size', '--window', 'fixed'], '--window_size needs a value'),
])
def test_unknown_and_malformed_flags_exit_2_naming_them(files, capsys, monkeypatch, extra,
                                                        expected):
  line = _one_error_line(capsys, files_to_bigquery.run, _base(files) + extra, monkeypatch)
  assert line.startswith('files_to_bigquery: error: ') and expected in line, line


def test_every_pipeline_refuses_a_typo(files, capsys, monkeypatch):
  line = _one_error_line(capsys, replay_dead_letters.run,
                         ['--dead_letter_path', files['data'], '--eror_type', 'x',
                          '--replay_to_path', files['tmp']], monkeypatch)
  assert 'unknown option --eror_type (did you mean --error_type?)' in line
  with pytest.raises(SystemExit) as info:
    pubsub_to_bigquery.start(['--input_subscription', 'projects/p/subscriptions/s',
                              '--schema', files['schema'], '--output_table', 'p:d.t',
                              '--dedup', 'auto'])
  assert info.value.code == 2
  assert '(did you mean --dedupe?)' in capsys.readouterr().err


BEAM_FLAGS = ['--runner', 'DataflowRunner', '--project', 'p', '--region', 'europe-west1',
              '--temp_location', 'gs://bucket-name/tmp', '--staging_location',
              'gs://bucket-name/stage', '--direct_num_workers', '2', '--direct_running_mode',
              'multi_processing', '--experiments', 'a', '--experiments=b', '--streaming',
              '--save_main_session', '--job_name', 'j', '--setup_file', './setup.py',
              '--sdk_container_image', 'img:1', '--dataflow_service_options', 'x=y',
              '--labels', 'team=data', '--max_num_workers', '3', '--no_use_public_ips',
              '--service_account_email', 'sa@p.iam.gserviceaccount.com', '--dry_run=True',
              '--no_wait_until_finish', '--', 'anything after --']


def test_beams_own_options_pass_through_unchanged_in_meaning():
  out = flags.normalize(BEAM_FLAGS, files_to_bigquery.CLI.own_flags())
  assert '--runner=DataflowRunner' in out and '--experiments=a' in out
  assert '--experiments=b' in out and '--streaming' in out and '--no_use_public_ips' in out
  assert out[-2:] == ['--', 'anything after --']
  parsed = PipelineOptions(out).get_all_options()
  assert parsed['experiments'] == ['a', 'b'] and parsed['direct_num_workers'] == 2
  assert parsed['labels'] == ['team=data'] and parsed['streaming'] is True


def test_a_run_with_beam_options_mixed_in(files):
  _, summary = files_to_bigquery.run(
      _base(files) + ['--runner', 'FnApiRunner', '--direct_num_workers', '1', '--experiments',
                      'a', '--experiments=b', '--project', 'p', '--job_name', 'mixed'],
      print_summary=False)
  assert summary['rows_written'] == 2 and summary['dead_letters'] == 0


@pytest.mark.parametrize('form', ['space', 'equals'])
def test_a_value_starting_with_a_dash_is_the_value_in_both_forms(files, capsys, monkeypatch,
                                                                 form):
  extra = (['--window', 'fixed', '--window_size', '-5s'] if form == 'space'
           else ['--window', 'fixed', '--window_size=-5s'])
  line = _one_error_line(capsys, files_to_bigquery.run, _base(files) + extra, monkeypatch)
  assert "--window_size: expected a duration like 30s, 5m, 1h or 1d, got '-5s'" in line


@pytest.mark.parametrize('form', ['space', 'equals'])
def test_a_dash_value_is_used_as_given(files, form):
  data = os.path.join(files['tmp'], 'dashes.csv')
  with open(data, 'w', encoding='utf-8') as f:
    f.write('id-name\n1-a\n2-b\n3-c\n')
  delimiter = ['--csv_delimiter', '-'] if form == 'space' else ['--csv_delimiter=-']
  _, summary = files_to_bigquery.run(
      _base(files, **{'--input': data, '--input_format': 'csv'}) + delimiter,
      print_summary=False)
  assert summary['rows_written'] == 3 and summary['dead_letters'] == 0


@pytest.mark.parametrize('value,expected', [
    ('', '--input is required'),
    ('{tmp}/missing.jsonl', "--input: no file matches '{tmp}/missing.jsonl'"),
    ('{tmp}/*.avro', "--input: no file matches '{tmp}/*.avro'"),
    ('{tmp}/folder', "--input: no file matches '{tmp}/folder'"),
])
def test_an_input_matching_no_file_is_one_line(files, capsys, monkeypatch, value, expected):
  argv = _base(files, **{'--input': value.format(**files)})
  line = _one_error_line(capsys, files_to_bigquery.run, argv, monkeypatch)
  assert expected.format(**files) in line, line


def test_relative_inputs_say_where_they_were_looked_for(files, capsys, monkeypatch):
  monkeypatch.chdir(files['tmp'])
  line = _one_error_line(capsys, files_to_bigquery.run, _base(files, **{'--input': 'nope.jsonl'}),
                         monkeypatch)
  assert f"--input: no file matches 'nope.jsonl' (relative to {files['tmp']})" in line


def test_replay_checks_its_dead_letter_files(files, capsys, monkeypatch):
  line = _one_error_line(capsys, replay_dead_letters.run,
                         ['--dead_letter_path', os.path.join(files['tmp'], 'errors/run1'),
                          '--error_type', '*', '--replay_to_path', files['tmp']], monkeypatch)
  assert '--dead_letter_path: no file matches' in line and 'errors/run1*' in line


def test_a_missing_input_exits_2_fast_as_a_command(files):
  """The issue's case: a nonexistent --input used to end in a 92-line Beam traceback."""
  env = dict(os.environ)
  env.pop('BIGQUERY_EMULATOR_HOST', None)
  started = time.monotonic()
  proc = subprocess.run([sys.executable, '-m', 'beam_pipelines.files_to_bigquery',
                         '--input', 'gone/*.jsonl', '--schema', files['schema'],
                         '--output_table', 'my-project:ds.events'], cwd=files['tmp'], env=env,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines() == [
      f"files_to_bigquery: error: --input: no file matches 'gone/*.jsonl' (relative to "
      f"{files['tmp']})"]
  assert proc.stdout == '' and time.monotonic() - started < 60


class TestRemotePatterns:
  """gs:// patterns. No Cloud Storage can exist here: Beam's ``FileSystems.match`` is
  replaced by a stand-in answering as GCS would (nothing, files, or a failure)."""

  @staticmethod
  def _match(monkeypatch, answer):
    from apache_beam.io.filesystem import FileMetadata, MatchResult
    from apache_beam.io.filesystems import FileSystems
    calls = []

    def match(patterns, limits=None):
      calls.append(patterns)
      if isinstance(answer, Exception):
        raise answer
      return [MatchResult(patterns[0], [FileMetadata(p, 10) for p in answer])]
    monkeypatch.setattr(FileSystems, 'match', match)
    return calls

  def test_no_object_matching_is_an_error(self, monkeypatch):
    calls = self._match(monkeypatch, [])
    with pytest.raises(ConfigError, match=r"^--input: no file matches 'gs://b/in/\*.jsonl'$"):
      inputs.check_inputs(PipelineOptions([]), [('input', 'gs://b/in/*.jsonl')])
    assert calls == [['gs://b/in/*.jsonl']]

  def test_matching_objects_pass(self, monkeypatch):
    self._match(monkeypatch, ['gs://b/in/1.jsonl'])
    inputs.check_inputs(PipelineOptions([]), [('input', 'gs://b/in/*.jsonl')])

  def test_a_listing_that_fails_is_left_to_the_run(self, monkeypatch, caplog):
    self._match(monkeypatch, OSError('no credentials here'))
    with caplog.at_level(logging.WARNING):
      inputs.check_inputs(PipelineOptions([]), [('input', 'gs://b/in/*.jsonl')])
    assert 'could not list gs://b/in/*.jsonl before starting (no credentials here)' in caplog.text

  def test_a_dry_run_lists_nothing(self, monkeypatch):
    calls = self._match(monkeypatch, [])
    inputs.check_inputs(PipelineOptions(['--dry_run=True']), [('input', 'gs://b/in/*.jsonl')])
    assert calls == []
