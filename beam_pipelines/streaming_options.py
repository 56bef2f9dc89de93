"""Options of the streaming pipeline and of windowed aggregation (shared by both pipelines).

Beam registers only *direct* subclasses of PipelineOptions with its parser, so each class
here subclasses it directly and defines each flag exactly once across the suite.
"""

import re
import dataclasses
from dataclasses import dataclass

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options import ConfigError, _convert, retry_budget_of
from transforms.aggregates import AggregateConfig
from transforms.pubsub_source import DEDUPE_MODES, PubSubSourceConfig
from transforms.sinks import BigQuerySinkConfig
from transforms.windowing import (
  ACCUMULATION_MODES,
  DEFAULT_LATE_CAPTURE_SECONDS,
  WINDOW_KINDS,
  TriggerConfig,
  WindowConfig,
)

AGGREGATE_TABLE_SUFFIX = '_aggregates'
_DURATION = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$')
_UNITS = {'ms': 0.001, 's': 1, None: 1, 'm': 60, 'h': 3600, 'd': 86400}


def parse_duration(text):
  """'90', '90s', '1.5m', '2h', '1d', '250ms' -> seconds (float)."""
  match = _DURATION.match(str(text))
  if not match:
    raise ValueError(f'expected a duration like 30s, 5m, 1h or 1d, got {text!r}')
  return float(match.group(1)) * _UNITS[match.group(2)]


def _duration_option(value, name):
  if value is None or str(value).strip() == '':
    return None
  return _convert(name, parse_duration, value)


def _int_option(value, name):
  if value is None or str(value).strip() == '':
    return None
  return _convert(name, int, value)


def _fields(value):
  return tuple(f.strip() for f in (value or '').split(',') if f.strip())


class WindowingOptions(PipelineOptions):
  """Optional windowed aggregation, for files_to_bigquery and pubsub_to_bigquery alike."""

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
    parser.add_argument('--late_gate_shards', default='16',
                        help='Shards of the late-data gate (stateful, keyed by hash of key).')
    parser.add_argument('--aggregate_keys', default='',
                        help='Comma-separated key fields (dotted paths).')
    parser.add_argument('--aggregate_sum', default='', help='Fields to sum.')
    parser.add_argument('--aggregate_min', default='', help='Fields to take the minimum of.')
    parser.add_argument('--aggregate_max', default='', help='Fields to take the maximum of.')
    parser.add_argument('--aggregate_distinct', default='',
                        help='Fields to count distinct values of (exact).')
    parser.add_argument('--aggregate_table', default=None,
                        help='Aggregate table (default <output_table>_aggregates).')


class PubSubToBigQueryOptions(PipelineOptions):
  """Options of ``pubsub_to_bigquery`` (besides CommonOptions and WindowingOptions)."""

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--input_subscription', default=None,
                        help='projects/P/subscriptions/S to read (xor --input_topic).')
    parser.add_argument('--input_topic', default=None,
                        help='projects/P/topics/T to read through a temporary subscription.')
    parser.add_argument('--id_attribute', default=None,
                        help='Attribute identifying a message, for de-duplication.')
    parser.add_argument('--timestamp_attribute', default=None,
                        help='Attribute holding the event time (RFC 3339 or epoch millis).')
    parser.add_argument('--dedupe', default='auto',
                        help=f'De-duplication: {"|".join(DEDUPE_MODES)} (auto: native id_label '
                             'on Dataflow, an in-pipeline stateful step elsewhere).')
    parser.add_argument('--dedupe_window', default='10m',
                        help='How long the in-pipeline de-dup step remembers an id.')
    parser.add_argument('--pubsub_pull_timeout', default='1s',
                        help='DirectRunner only: how long an idle pull waits (Beam: 30s).')
    parser.add_argument('--pubsub_pull_grace', default='90s',
                        help='DirectRunner only: how long pulls may keep failing (subscription '
                             'not found, Pub/Sub unreachable) before the run fails.')


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
  if opts.window not in WINDOW_KINDS:
    raise ConfigError(f'--window must be one of {"|".join(WINDOW_KINDS)}, got {opts.window!r}')
  trigger = _convert('accumulation', TriggerConfig,
                     early_after_seconds=_duration_option(opts.early_firing_after,
                                                          'early_firing_after'),
                     early_after_count=_int_option(opts.early_firing_count, 'early_firing_count'),
                     late_after_count=_int_option(opts.late_firing_count, 'late_firing_count'),
                     accumulation=opts.accumulation)
  size = _duration_option(opts.window_size, 'window_size')
  period = _duration_option(opts.window_period, 'window_period')
  gap = _duration_option(opts.session_gap, 'session_gap')
  if opts.window in ('fixed', 'sliding') and size is None:
    raise ConfigError(f'--window_size is required with --window {opts.window}')
  if opts.window == 'sliding' and period is None:
    raise ConfigError('--window_period is required with --window sliding')
  if opts.window == 'session' and gap is None:
    raise ConfigError('--session_gap is required with --window session')
  window = _convert('window', WindowConfig, kind=opts.window, size_seconds=size,
                    period_seconds=period, gap_seconds=gap,
                    event_time_field=opts.event_time_field or None,
                    allowed_lateness_seconds=_duration_option(opts.allowed_lateness,
                                                              'allowed_lateness') or 0.0,
                    trigger=trigger,
                    late_capture_seconds=(DEFAULT_LATE_CAPTURE_SECONDS
                                          if str(opts.late_capture).strip() == 'forever'
                                          else _duration_option(opts.late_capture,
                                                                'late_capture') or 0.0),
                    gate_shards=_int_option(opts.late_gate_shards, 'late_gate_shards'))
  aggregate = _convert('aggregate_keys', AggregateConfig,
                       key_fields=_fields(opts.aggregate_keys),
                       sum_fields=_fields(opts.aggregate_sum),
                       min_fields=_fields(opts.aggregate_min),
                       max_fields=_fields(opts.aggregate_max),
                       distinct_fields=_fields(opts.aggregate_distinct))
  _convert('aggregate_keys', aggregate.check_against, schema)
  if window.event_time_field is not None:
    spec = schema.find(window.event_time_field)
    if spec is None or spec.type != 'TIMESTAMP' or spec.repeated:
      raise ConfigError(f'--event_time_field {window.event_time_field!r} must be a '
                        'non-repeated TIMESTAMP field of the schema')
  if lake is not None:
    if opts.aggregate_table:
      raise ConfigError('--aggregate_table is for BigQuery output; with --output_path the '
                        'aggregates are written to <output_path>_aggregates')
    aggregate_lake = dataclasses.replace(lake, path=lake.path + AGGREGATE_TABLE_SUFFIX)
    return AggregationConfig(window=window, aggregate=aggregate, sink=None, lake=aggregate_lake)
  table = opts.aggregate_table or output_table + AGGREGATE_TABLE_SUFFIX
  sink = _convert('aggregate_table', BigQuerySinkConfig, table=table, write_method=write_method,
                  temp_location=temp_location, retry_budget_seconds=retry_budget_of(options))
  return AggregationConfig(window=window, aggregate=aggregate, sink=sink)


def pubsub_source_config(options):
  """PubSubToBigQueryOptions -> PubSubSourceConfig (raises ConfigError)."""
  opts = options.view_as(PubSubToBigQueryOptions)
  if bool(opts.input_subscription) == bool(opts.input_topic):
    raise ConfigError('exactly one of --input_subscription and --input_topic is required')
  name = 'input_subscription' if opts.input_subscription else 'input_topic'
  grace = _duration_option(opts.pubsub_pull_grace, 'pubsub_pull_grace')
  if grace is not None and grace <= 0:
    raise ConfigError(f'--pubsub_pull_grace: must be more than 0, got {opts.pubsub_pull_grace!r}')
  try:
    return _pubsub_source(opts, name, grace)
  except ConfigError as e:
    # Name the option that holds the bad value, not the input option: PubSubSourceConfig's
    # message starts with its field's name.
    field = str(e).split(': ', 1)[-1].split(' ', 1)[0]
    option = _SOURCE_FIELD_OPTIONS.get(field)
    if option is None or option == name:
      raise
    raise ConfigError(f'--{option}: {str(e).split(": ", 1)[-1]}') from None


_SOURCE_FIELD_OPTIONS = {
    'subscription': 'input_subscription', 'topic': 'input_topic', 'dedupe': 'dedupe',
    'dedupe_seconds': 'dedupe_window', 'direct_runner_pull_timeout': 'pubsub_pull_timeout',
    'direct_runner_pull_grace': 'pubsub_pull_grace', 'id_attribute': 'id_attribute',
    'timestamp_attribute': 'timestamp_attribute'}


def _pubsub_source(opts, name, grace):
  return _convert(name, PubSubSourceConfig,
                  subscription=opts.input_subscription or None,
                  topic=opts.input_topic or None,
                  id_attribute=opts.id_attribute or None,
                  timestamp_attribute=opts.timestamp_attribute or None,
                  dedupe=opts.dedupe,
                  dedupe_seconds=_duration_option(opts.dedupe_window, 'dedupe_window'),
                  direct_runner_pull_timeout=_duration_option(opts.pubsub_pull_timeout,
                                                              'pubsub_pull_timeout'),
                  # An empty option keeps the config's default.
                  **({} if grace is None else {'direct_runner_pull_grace': grace}))


@dataclass(frozen=True)
class PubSubToBigQueryConfig:
  """Everything ``pubsub_to_bigquery`` needs, validated."""
  source: PubSubSourceConfig
  schema: object
  parse: object
  sink: BigQuerySinkConfig
  dead_letters: object
  pipeline_name: str
  windowing: AggregationConfig | None = None
  masking: object = None      # masking_options.MaskingConfig
  enrichment: object = None   # transforms.enrichment.EnrichmentConfig
  quality: object = None      # quality_options.QualityRunConfig (rules, drift, summary)
  udf: str | None = None      # udf_options.udf_config: the --udf spec


def pubsub_to_bigquery_config(options):
  """All options -> PubSubToBigQueryConfig (raises ConfigError)."""
  from beam_pipelines.options import common_configs
  source = pubsub_source_config(options)
  schema, parse, sink, dead, name = common_configs(options, 'pubsub_to_bigquery')
  if sink.write_method == 'FILE_LOADS':
    raise ConfigError('--write_method FILE_LOADS is for batch; a streaming pipeline uses '
                      'STREAMING_INSERTS (or STORAGE_WRITE_API on Dataflow)')
  from beam_pipelines.options import stage_configs
  masking, enrichment, windowing = stage_configs(options, schema, name, sink)
  from beam_pipelines.quality_options import quality_stage_config
  from beam_pipelines.udf_options import udf_config
  quality = quality_stage_config(options, schema, masking, enrichment, sink)
  return PubSubToBigQueryConfig(source=source, schema=schema, parse=parse, sink=sink,
                                dead_letters=dead, pipeline_name=name, windowing=windowing,
                                masking=masking, enrichment=enrichment, quality=quality,
                                udf=udf_config(options))
