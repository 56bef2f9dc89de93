"""One typed pipeline config for every pipeline of the shared chain, made from the options.

``PipelineConfig`` holds what ``beam_pipelines.chain.build_chain`` needs, each part made by
the options module of its concern (``beam_pipelines.options``). The pipelines differ only in
their source, so ``files_to_bigquery_config`` and ``pubsub_to_bigquery_config`` differ only
in it and in the checks that tie two concerns together (a CSV schema, an event-time field
for files, a write method for streaming). Every problem raises ``ConfigError`` naming the
option.
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional, Union

from apache_beam.options.pipeline_options import StandardOptions

from beam_pipelines.options.common import CommonOptions, common_configs, temp_location_of
from beam_pipelines.options.enrichment import enrichment_config
from beam_pipelines.options.batching import batch_size
from beam_pipelines.transforms.core.batches import TimedBatches
from beam_pipelines.options.files import file_source_config, lake_sink_config
from beam_pipelines.options.lake_loads import lake_load_config
from beam_pipelines.options.layout import TableLayouts, table_layouts
from beam_pipelines.options.loads import load_config
from beam_pipelines.options.masking import MaskingConfig, masking_config
from beam_pipelines.options.monitoring import MonitoringRunConfig, monitoring_config
from beam_pipelines.options.notifications import check_notified_loads, notification_config
from beam_pipelines.options.pubsub import pubsub_source_config
from beam_pipelines.options.quality import QualityRunConfig, quality_config
from beam_pipelines.options.udf import udf_config
from beam_pipelines.options.values import ConfigError, convert
from beam_pipelines.options.windowing import AggregationConfig, windowing_config
from beam_pipelines.transforms.enrichment import EnrichmentConfig, enriched_schema
from beam_pipelines.transforms.quality import quality_output_schema
from beam_pipelines.transforms.read.files import FileSourceConfig
from beam_pipelines.transforms.read.formats.csv_format import check_schema_for_csv
from beam_pipelines.transforms.loads.config import LoadConfig
from beam_pipelines.transforms.loads.notifications import FileNotificationConfig
from beam_pipelines.transforms.read.pubsub import PubSubSourceConfig
from beam_pipelines.transforms.windowing.aggregates import column_name
from beam_pipelines.transforms.validate.parse import ParseConfig
from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema
from beam_pipelines.transforms.write.bigquery import BigQuerySinkConfig
from beam_pipelines.transforms.write.dead_letters import DeadLetterSinkConfig
from beam_pipelines.transforms.write.lake import LakeSinkConfig, WriteRowsToFiles


@dataclass(frozen=True)
class PipelineConfig:
  """Everything one run of the chain needs, validated. Optional stages are None when off."""
  source: Union[FileSourceConfig, PubSubSourceConfig]
  schema: TableSchema
  parse: ParseConfig
  sink: Optional[BigQuerySinkConfig]  # None when rows go to files (``lake``)
  dead_letters: DeadLetterSinkConfig
  pipeline_name: str
  lake: Optional[LakeSinkConfig] = None
  masking: Optional[MaskingConfig] = None
  enrichment: Optional[EnrichmentConfig] = None
  windowing: Optional[AggregationConfig] = None
  quality: QualityRunConfig = QualityRunConfig()
  udf: Optional[str] = None  # the --udf spec
  monitoring: MonitoringRunConfig = MonitoringRunConfig()  # alerts, report, console
  layouts: TableLayouts = TableLayouts()  # of the tables the run creates (also in the sinks)
  loads: Optional[LoadConfig] = None  # --load_mode and the manifest (table, or lake files)
  # streaming files_to_bigquery: the files notifications name, committed per window
  notifications: Optional[FileNotificationConfig] = None
  # Batched execution: records travel between the row-by-row steps in batches of at most
  # this many (False: one by one); Pub/Sub: TimedBatches (each record keeps its timestamp).
  batched: Union[bool, int, TimedBatches] = False

  @property
  def csv_format(self):
    """The CsvFormat of CSV input (None for other formats): dead letters are masked cell by
    cell with it."""
    return self.source.csv if isinstance(self.source, FileSourceConfig) else None

  @property
  def processed_schema(self):
    """The schema of rows after masking and enrichment: what aggregates and rules see."""
    return processed_schema(self.schema, self.masking, self.enrichment)

  @property
  def output_schema(self):
    """The rows table schema: processed, plus the quality flag column when configured, plus
    the source file column when configured."""
    schema = quality_output_schema(self.processed_schema, self.quality.rules)
    column = self.loads.source_file_column if self.loads is not None else None
    if column:
      schema = TableSchema(schema.fields + (FieldSpec(column, 'STRING'),))
    return schema

  @property
  def commits(self):
    """True when the run commits through the manifest and one commit (load modes
    incremental and replace; rows to BigQuery or files)."""
    return self.loads is not None and self.loads.commits


def processed_schema(schema, masking=None, enrichment=None):
  """The schema of rows after masking and enrichment."""
  if masking is not None:
    schema = masking.output_schema
  return schema if enrichment is None else enriched_schema(schema, enrichment)


def _stages(options, common, lake=None):
  """(masking, enrichment, windowing, quality, udf, monitoring): the optional stages, checked
  against the rows they see (masked, then enriched)."""
  sink = common.sink
  masking = masking_config(options, common.schema)
  enrichment = enrichment_config(options, common.pipeline_name)
  rows_schema = processed_schema(common.schema, masking, enrichment)
  windowing = windowing_config(
      options, rows_schema, sink.table if sink is not None else None,
      sink.write_method if sink is not None else None, temp_location_of(options), lake=lake)
  quality = quality_config(
      options, rows_schema, output_table=sink.table if sink is not None else None,
      output_path=lake.path if lake is not None else None,
      write_method=sink.write_method if sink is not None else 'STREAMING_INSERTS',
      temp_location=temp_location_of(options),
      unknown_fields=options.view_as(CommonOptions).unknown_fields,
      streaming=bool(options.view_as(StandardOptions).streaming))
  monitoring = monitoring_config(
      options, quality, output_table=sink.table if sink is not None else None,
      output_path=lake.path if lake is not None else None,
      write_method=sink.write_method if sink is not None else 'STREAMING_INSERTS',
      temp_location=temp_location_of(options),
      streaming=bool(options.view_as(StandardOptions).streaming),
      dead_letter_table=common.dead_letters.table or common.dead_letters.path)
  return masking, enrichment, windowing, quality, udf_config(options), monitoring


def with_table_layouts(cfg, options):
  """``cfg`` with the layout options applied to every table it creates (raises ConfigError
  naming the option): rows, dead letters, aggregates, quality scores."""
  windowing = cfg.windowing
  keys = [column_name(k) for k in windowing.aggregate.key_fields] if windowing else []
  dead = cfg.dead_letters
  layouts = table_layouts(options, cfg.output_schema, keys, tables=cfg.sink is not None,
                          dead_letter_table=dead.kind == 'bigquery')
  sink = cfg.sink and dataclasses.replace(cfg.sink, layout=layouts.rows)
  if dead.kind == 'bigquery':
    dead = dataclasses.replace(dead, layout=layouts.dead_letters)
  if windowing is not None and windowing.sink is not None:
    windowing = dataclasses.replace(windowing, sink=dataclasses.replace(
        windowing.sink, layout=layouts.aggregates))
  quality = cfg.quality
  if quality.scores_sink is not None:
    quality = dataclasses.replace(quality, scores_sink=dataclasses.replace(
        quality.scores_sink, layout=layouts.quality))
  return dataclasses.replace(cfg, sink=sink, dead_letters=dead, windowing=windowing,
                             quality=quality, layouts=layouts)


def files_to_bigquery_config(options):
  """The options of ``files_to_bigquery`` -> PipelineConfig (raises ConfigError)."""
  source = file_source_config(options)
  lake = lake_sink_config(options)
  common = common_configs(options, 'files_to_bigquery',
                          lake_path=lake.path if lake is not None else None)
  parse = common.parse
  if source.payload_format != parse.format:
    parse = convert('input_format', dataclasses.replace, parse,
                    format=source.payload_format, csv=source.csv)
  if source.format == 'csv':
    convert('schema', check_schema_for_csv, common.schema)
  if lake is not None:
    convert('output_format', WriteRowsToFiles, common.schema, lake)  # schema fits the format
  elif common.sink.write_method == 'FILE_LOADS' and not temp_location_of(options):
    raise ConfigError('--temp_location is required with --write_method FILE_LOADS')
  masking, enrichment, windowing, quality, udf, monitoring = _stages(options, common, lake)
  if windowing is not None and windowing.window.event_time_field is None:
    raise ConfigError('--event_time_field is required with --window for files (a file '
                      'record has no event time of its own)')
  if lake is not None:
    loads = lake_load_config(options, lake, common.dead_letters,
                             streaming=bool(options.view_as(StandardOptions).streaming))
  else:
    # evolve adds columns as rows come: without --load_mode, such a run appends.
    loads = load_config(options, processed_schema(common.schema, masking, enrichment),
                        common.sink.table,
                        default_mode='append' if quality.drift.mode == 'evolve' else None)
    if loads.commits and quality.drift.mode == 'evolve':
      raise ConfigError(f'--schema_drift evolve adds columns while rows stream in; '
                        f'--load_mode {loads.mode} commits them with a fixed schema (use '
                        '--load_mode append)')
  notifications = notification_config(options, source.pattern)
  if notifications is not None:
    check_notified_loads(loads, lake)
  cfg = PipelineConfig(source=source, schema=common.schema, parse=parse, sink=common.sink,
                       dead_letters=common.dead_letters, pipeline_name=common.pipeline_name,
                       lake=lake, masking=masking, enrichment=enrichment,
                       windowing=windowing, quality=quality, udf=udf, loads=loads,
                       monitoring=monitoring, notifications=notifications,
                       batched=batch_size(options))
  return with_table_layouts(cfg, options)


def pubsub_to_bigquery_config(options):
  """The options of ``pubsub_to_bigquery`` -> PipelineConfig (raises ConfigError)."""
  source = pubsub_source_config(options)
  common = common_configs(options, 'pubsub_to_bigquery')
  if common.sink.write_method == 'FILE_LOADS':
    raise ConfigError('--write_method FILE_LOADS is for batch; a streaming pipeline uses '
                      'STREAMING_INSERTS (or STORAGE_WRITE_API on Dataflow)')
  masking, enrichment, windowing, quality, udf, monitoring = _stages(options, common)
  cfg = PipelineConfig(source=source, schema=common.schema, parse=common.parse,
                       sink=common.sink, dead_letters=common.dead_letters,
                       pipeline_name=common.pipeline_name, masking=masking,
                       enrichment=enrichment, windowing=windowing, quality=quality, udf=udf,
                       monitoring=monitoring, batched=batch_size(options, timed=True))
  return with_table_layouts(cfg, options)
