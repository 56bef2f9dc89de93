"""Windowed aggregation options (``--window``, ``--aggregate_*``, triggers, lateness), shared by
both pipelines, and their typed config ``AggregationConfig`` (windows, aggregates, and where
the aggregate rows go).
"""

import dataclasses
from dataclasses import dataclass

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options.common import retry_budget_of
from beam_pipelines.options.values import ConfigError, convert
from beam_pipelines.transforms.windowing.aggregates import AggregateConfig
from beam_pipelines.transforms.windowing.config import ACCUMULATION_MODES, WINDOW_KINDS, WindowConfig
from beam_pipelines.transforms.windowing.settings import (DEFAULTS as WINDOW_SETTINGS,
                                                          SettingError, window_and_aggregate)
from beam_pipelines.transforms.write.bigquery import BigQuerySinkConfig

AGGREGATE_TABLE_SUFFIX = '_aggregates'


# AggregateConfig argument (its errors start with it) -> the option that sets it.
_AGGREGATE_OPTIONS = {'key_fields': 'aggregate_keys', 'sum_fields': 'aggregate_sum',
                      'min_fields': 'aggregate_min', 'max_fields': 'aggregate_max',
                      'distinct_fields': 'aggregate_distinct'}


class WindowingOptions(PipelineOptions):
  """Optional windowed aggregation, for files_to_bigquery and pubsub_to_bigquery alike."""
  HELP_TITLE = 'Windowed aggregation'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--window', default=None,
                        help=f'Aggregate per key and window: {"|".join(WINDOW_KINDS)}. '
                             'Without it, no aggregation.')
    parser.add_argument('--window_size', default=None,
                        help='Fixed/sliding window size (30s, 5m, 1h...).')
    parser.add_argument('--window_period', default=None, help='Sliding window period.')
    parser.add_argument('--session_gap', default=None, help='Session window gap.')
    parser.add_argument('--event_time_field', default=None,
                        help='TIMESTAMP field holding the event time (default: the source '
                             'timestamp, e.g. --timestamp_attribute or publish time).')
    parser.add_argument('--allowed_lateness', default='0s',
                        help='How long after a window ends late elements still update it.')
    parser.add_argument('--early_firing_after', default=None,
                        help='Fire early panes this long (processing time) after a pane\'s '
                             'first element.')
    parser.add_argument('--early_firing_count', default=None,
                        help='Fire an early pane every N elements.')
    parser.add_argument('--late_firing_count', default='1',
                        help='After the on-time pane, fire a late pane every N late elements.')
    parser.add_argument('--accumulation', default='discarding',
                        help=f'Pane accumulation mode: {"|".join(ACCUMULATION_MODES)}.')
    parser.add_argument('--late_capture', default='forever',
                        help='Extra lateness given to the GroupByKey so elements the late-data '
                             'gate has not yet proven late are aggregated, not dropped '
                             '(default forever, ~100 years; a duration bounds window state).')
    parser.add_argument('--late_gate_shards', default='auto',
                        help='Shards of the late-data gate (stateful, keyed by hash of key). '
                             'auto: 2 on the local DirectRunner (fewer bundles), 16 elsewhere.')
    parser.add_argument('--aggregate_keys', default='',
                        help='Comma-separated key fields (dotted paths).')
    parser.add_argument('--aggregate_sum', default='', help='Fields to sum.')
    parser.add_argument('--aggregate_min', default='', help='Fields to take the minimum of.')
    parser.add_argument('--aggregate_max', default='', help='Fields to take the maximum of.')
    parser.add_argument('--aggregate_distinct', default='',
                        help='Fields to count distinct values of (exact).')
    parser.add_argument('--aggregate_table', default=None,
                        help='Aggregate table (default <output_table>_aggregates).')


@dataclass(frozen=True)
class AggregationConfig:
  """Windowed aggregation in a pipeline: the windows, the aggregates and their table."""
  window: WindowConfig
  aggregate: AggregateConfig
  sink: BigQuerySinkConfig | None
  lake: object = None  # a LakeSinkConfig when rows go to files (--output_path)


def windowing_config(options, schema, output_table, write_method, temp_location, lake=None):
  """WindowingOptions -> AggregationConfig, or None without --window (raises ConfigError).

  ``schema`` is the schema of the rows being aggregated (after masking and enrichment). With
  ``lake`` (rows written as files), aggregates go to files at ``<output_path>_aggregates``.
  """
  opts = options.view_as(WindowingOptions)
  if not opts.window:
    for name in ('window_size', 'window_period', 'session_gap', 'event_time_field',
                 'early_firing_after', 'early_firing_count', 'aggregate_table'):
      if getattr(opts, name):
        raise ConfigError(f'--{name} needs --window')
    return None
  try:
    window, aggregate = window_and_aggregate(
        schema, **{name: getattr(opts, name) for name in WINDOW_SETTINGS})
  except SettingError as e:
    raise ConfigError(f'--{e}') from None
  if lake is not None:
    if opts.aggregate_table:
      raise ConfigError('--aggregate_table is for BigQuery output; with --output_path the '
                        'aggregates are written to <output_path>_aggregates')
    aggregate_lake = dataclasses.replace(lake, path=lake.path + AGGREGATE_TABLE_SUFFIX)
    return AggregationConfig(window=window, aggregate=aggregate, sink=None, lake=aggregate_lake)
  table = opts.aggregate_table or output_table + AGGREGATE_TABLE_SUFFIX
  sink = convert('aggregate_table', BigQuerySinkConfig, table=table, write_method=write_method,
                  temp_location=temp_location, retry_budget_seconds=retry_budget_of(options))
  return AggregationConfig(window=window, aggregate=aggregate, sink=sink)
