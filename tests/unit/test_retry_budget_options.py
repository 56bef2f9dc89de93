"""--bigquery_retry_budget_seconds: defaults per batch/streaming, every BigQuery sink of a
pipeline gets it, bad values exit 2 with one line naming the flag."""

import pytest

from beam_pipelines import files_to_bigquery, pubsub_to_bigquery
from beam_pipelines.options.common import BATCH_RETRY_BUDGET_SECONDS
from beam_pipelines.runtime.cli import options_and_config

BASE = ['--schema', 'samples/events_schema.json', '--output_table', 'test-project:d.events']
FILES = BASE + ['--input', 'x.jsonl']
SUB = ['--input_subscription', 'projects/test-project/subscriptions/events']
FLAG = '--bigquery_retry_budget_seconds'


def files_config(argv):
  return options_and_config(argv, 'files_to_bigquery', 'FnApiRunner',
                                 files_to_bigquery.config_from_options)[1]


def test_batch_default_is_finite_and_reaches_rows_and_dead_letter_sinks():
  cfg = files_config(FILES)
  assert cfg.sink.retry_budget_seconds == BATCH_RETRY_BUDGET_SECONDS == 600
  assert cfg.dead_letters.retry_budget_seconds == 600


def test_streaming_default_is_unlimited():
  _, cfg = pubsub_to_bigquery.pipeline_options(BASE + SUB)
  assert cfg.sink.retry_budget_seconds == 0
  assert cfg.dead_letters.retry_budget_seconds == 0


def test_every_bigquery_sink_gets_the_budget():
  _, cfg = pubsub_to_bigquery.pipeline_options(BASE + SUB + [
      FLAG, '45.5', '--window', 'fixed', '--window_size', '1m', '--aggregate_keys',
      'event_type', '--quality_rules', 'samples/quality_rules.yaml'])
  assert cfg.sink.retry_budget_seconds == 45.5
  assert cfg.dead_letters.retry_budget_seconds == 45.5
  assert cfg.windowing.sink.retry_budget_seconds == 45.5
  assert cfg.quality.scores_sink.retry_budget_seconds == 45.5


def test_zero_means_unlimited_in_batch_too():
  cfg = files_config(FILES + [FLAG, '0'])
  assert cfg.sink.retry_budget_seconds == 0


@pytest.mark.parametrize('value', ['-1', 'ten', 'nan', 'inf', '1e999'])
def test_bad_values_exit_2_with_one_line_naming_the_flag(value, capsys):
  with pytest.raises(SystemExit) as info:
    files_config(FILES + [FLAG, value])
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and FLAG in err[0] and repr(value) in err[0], err


def test_checked_even_when_rows_go_to_files(capsys):
  with pytest.raises(SystemExit):
    files_config(['--schema', 'samples/events_schema.json', '--input', 'x.jsonl',
                  '--output_path', '/tmp/lake/events', FLAG, '-5'])
  assert FLAG in capsys.readouterr().err


def test_the_typed_configs_validate_it_too():
  from beam_pipelines.transforms import BigQuerySinkConfig, DeadLetterSinkConfig
  with pytest.raises(ValueError, match='retry_budget_seconds'):
    BigQuerySinkConfig('my-project:ds.events', retry_budget_seconds=-1)
  with pytest.raises(ValueError, match='retry_budget_seconds'):
    DeadLetterSinkConfig(table='ds.events_error_records', retry_budget_seconds='600')
