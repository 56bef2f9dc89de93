"""Options of pubsub_to_bigquery and of windowed aggregation: typed configs, exit code 2."""

import pytest

from beam_pipelines import files_to_bigquery, pubsub_to_bigquery
from beam_pipelines.options.values import parse_duration

BASE = ['--schema', 'samples/events_schema.json', '--output_table', 'test-project:d.events']
SUB = ['--input_subscription', 'projects/test-project/subscriptions/events']


@pytest.mark.parametrize('text, seconds', [('90', 90.0), ('90s', 90.0), ('1.5m', 90.0),
                                           ('2h', 7200.0), ('1d', 86400.0), ('250ms', 0.25)])
def test_durations(text, seconds):
  assert parse_duration(text) == seconds


@pytest.mark.parametrize('argv, message', [
    (BASE, 'exactly one of --input_subscription and --input_topic'),
    (BASE + SUB + ['--input_topic', 'projects/p/topics/t'], 'exactly one of'),
    (BASE + ['--input_subscription', 'events'], '--input_subscription: subscription must'),
    (BASE + SUB + ['--window', 'fixed'], '--window_size is required'),
    (BASE + SUB + ['--window', 'hourly'], '--window must be one of'),
    (BASE + SUB + ['--window', 'sliding', '--window_size', '1m'], '--window_period is required'),
    (BASE + SUB + ['--window', 'fixed', '--window_size', 'soon'], '--window_size: expected a '
                                                                    'duration'),
    (BASE + SUB + ['--window', 'fixed', '--window_size', '1m', '--aggregate_sum', 'event_type'],
     'sum_fields'),
    (BASE + SUB + ['--window', 'fixed', '--window_size', '1m', '--event_time_field', 'amount'],
     '--event_time_field'),
    (BASE + SUB + ['--window_size', '1m'], '--window_size needs --window'),
    (BASE + SUB + ['--write_method', 'FILE_LOADS'], 'FILE_LOADS is for batch'),
    (BASE + SUB + ['--dedupe', 'maybe'], '--dedupe: dedupe must be one of'),
    (BASE + SUB + ['--dedupe_window', '0s'], '--dedupe_window: dedupe_seconds must be'),
    (BASE + SUB + ['--pubsub_pull_timeout', '0s'], '--pubsub_pull_timeout: direct_runner'),
    (BASE + SUB + ['--pubsub_pull_timeout', '1h'], '--pubsub_pull_timeout: direct_runner'),
    (BASE + SUB + ['--id_attribute', ''], None),
    (BASE + SUB + ['--pubsub_pull_grace', '0s'], '--pubsub_pull_grace: must be more than 0'),
    (BASE + SUB + ['--pubsub_pull_grace', 'long'], '--pubsub_pull_grace: expected a duration'),
])
def test_bad_options_exit_2_naming_the_option(argv, message, capsys):
  if message is None:  # an empty option keeps the default: not an error
    pubsub_to_bigquery.pipeline_options(argv)
    return
  with pytest.raises(SystemExit) as exit_info:
    pubsub_to_bigquery.pipeline_options(argv)
  assert exit_info.value.code == 2
  assert message in capsys.readouterr().err


def test_good_options_become_typed_configs():
  _, cfg = pubsub_to_bigquery.pipeline_options(BASE + SUB + [
      '--id_attribute', 'event_id', '--timestamp_attribute', 'ts', '--window', 'sliding',
      '--window_size', '10m', '--window_period', '1m', '--allowed_lateness', '30s',
      '--early_firing_count', '100', '--accumulation', 'accumulating',
      '--aggregate_keys', 'event_type,user.address.country', '--aggregate_sum', 'quantity',
      '--aggregate_distinct', 'user.id', '--pubsub_pull_timeout', '2s',
      '--pubsub_pull_grace', '2m'])
  assert cfg.source.subscription == 'projects/test-project/subscriptions/events'
  assert (cfg.source.id_attribute, cfg.source.timestamp_attribute) == ('event_id', 'ts')
  assert cfg.source.direct_runner_pull_timeout == 2.0
  assert cfg.source.direct_runner_pull_grace == 120.0
  window = cfg.windowing.window
  assert (window.kind, window.size_seconds, window.period_seconds) == ('sliding', 600, 60)
  assert window.allowed_lateness_seconds == 30
  assert window.trigger.early_after_count == 100
  assert window.trigger.accumulation == 'accumulating'
  assert cfg.windowing.aggregate.key_fields == ('event_type', 'user.address.country')
  assert cfg.windowing.sink.table == 'test-project:d.events_aggregates'
  names = cfg.windowing.aggregate.table_schema(cfg.schema).field_names()
  assert names == ['event_type', 'user_address_country', 'window_start', 'window_end',
                   'pane_timing', 'pane_index', 'count', 'sum_quantity', 'distinct_user_id']


def test_files_windowing_needs_an_event_time_field(capsys):
  with pytest.raises(SystemExit) as exit_info:
    files_to_bigquery.run(BASE + ['--input', 'x.jsonl', '--window', 'fixed',
                                  '--window_size', '1m'])
  assert exit_info.value.code == 2
  assert '--event_time_field is required with --window' in capsys.readouterr().err
