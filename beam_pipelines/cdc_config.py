"""The typed config of ``cdc_to_bigquery``, made from its options: the source (files: batch;
Pub/Sub: streaming), the change format, masking and enrichment checked against change rows,
and the merge (or storage-write) target. Every problem raises ``ConfigError`` naming the
option.
"""

from dataclasses import dataclass, replace
from typing import Optional, Union

from apache_beam.options.pipeline_options import GoogleCloudOptions, StandardOptions

from beam_pipelines.options.cdc import (DEFAULT_KEY_ATTRIBUTE, CdcToBigQueryOptions,
                                        cdc_tables_config, change_format_config)
from beam_pipelines.options.common import common_configs, retry_budget_of
from beam_pipelines.options.enrichment import enrichment_config
from beam_pipelines.options.files import input_pattern
from beam_pipelines.options.layout import TableLayoutOptions, table_layouts
from beam_pipelines.options.masking import MaskingConfig, masking_config
from beam_pipelines.options.pubsub import PubSubToBigQueryOptions, pubsub_source_config
from beam_pipelines.options.quality import QualityRunConfig
from beam_pipelines.options.values import ConfigError, convert
from beam_pipelines.transforms.cdc.config import ChangeFormatConfig, MergeConfig
from beam_pipelines.transforms.cdc.images import (bind_change_policy,
                                                  check_enrichment_keeps_key,
                                                  processed_row_schema)
from beam_pipelines.transforms.cdc.tables import check_reserved, check_row_schema, replica_schema
from beam_pipelines.transforms.enrichment import EnrichmentConfig, enriched_schema
from beam_pipelines.transforms.masking.binding import BoundPolicy
from beam_pipelines.transforms.read.files import FileSourceConfig
from beam_pipelines.transforms.read.pubsub import PubSubSourceConfig
from beam_pipelines.transforms.validate.parse import ParseConfig
from beam_pipelines.transforms.core.schema import TableSchema
from beam_pipelines.transforms.write.dead_letters import DeadLetterSinkConfig


@dataclass(frozen=True)
class CdcPipelineConfig:
  """Everything one run of ``cdc_to_bigquery`` needs, validated.

  ``merge`` is set for ``--apply_mode merge``, ``storage_write_table`` for
  ``storage_write_cdc``. ``change_policy`` is the masking policy bound to change rows.
  """
  source: Union[FileSourceConfig, PubSubSourceConfig]
  schema: TableSchema
  parse: ParseConfig
  changes: ChangeFormatConfig
  row_schema: TableSchema  # rows after masking and enrichment: the replica's columns
  dead_letters: DeadLetterSinkConfig
  pipeline_name: str
  streaming: bool
  merge: Optional[MergeConfig] = None
  storage_write_table: Optional[str] = None
  masking: Optional[MaskingConfig] = None
  change_policy: Optional[BoundPolicy] = None
  enrichment: Optional[EnrichmentConfig] = None
  quality: QualityRunConfig = QualityRunConfig()  # summary settings only (no rules)

  @property
  def replica(self):
    return self.merge.replica if self.merge is not None else self.storage_write_table


def is_streaming_argv(argv):
  """True when argv names a Pub/Sub input (the pipeline then runs streaming)."""
  return any(a.split('=', 1)[0] in ('--input_subscription', '--input_topic') for a in argv)


def _source(options):
  pattern = input_pattern(options)
  pubsub = options.view_as(PubSubToBigQueryOptions)
  if pattern and (pubsub.input_subscription or pubsub.input_topic):
    raise ConfigError('--input (files, batch) and --input_subscription/--input_topic '
                      '(Pub/Sub, streaming) are exclusive')
  if pattern:
    if options.view_as(StandardOptions).streaming:
      raise ConfigError('--input reads files in batch; use --input_subscription or '
                        '--input_topic to stream')
    return convert('input', FileSourceConfig, pattern=pattern, format='jsonl')
  if not (pubsub.input_subscription or pubsub.input_topic):
    raise ConfigError('one of --input, --input_subscription and --input_topic is required')
  source = pubsub_source_config(options)
  key_attribute = (options.view_as(CdcToBigQueryOptions).key_attribute or
                   DEFAULT_KEY_ATTRIBUTE)
  return replace(source, ordering_key_attribute=key_attribute)


def _layouts(options, row_schema, dead_letters):
  """(TableLayouts, the dead-letter config with its layout): the replica may be partitioned
  and clustered, the dead letters kept for a retention; nothing of CDC expires otherwise (the
  change log is the source of truth, the replica holds current rows)."""
  if options.view_as(TableLayoutOptions).partition_expiration_days not in (None, ''):
    raise ConfigError('--partition_expiration_days: nothing of cdc_to_bigquery expires (the '
                      'change log is the source of truth, the replica holds current rows); '
                      'use --dead_letter_retention_days for the dead letters')
  layouts = table_layouts(options, replica_schema(row_schema),
                          dead_letter_table=dead_letters.kind == 'bigquery')
  if dead_letters.kind == 'bigquery':
    dead_letters = replace(dead_letters, layout=layouts.dead_letters)
  return layouts, dead_letters


def cdc_to_bigquery_config(options):
  """The options of ``cdc_to_bigquery`` -> CdcPipelineConfig (raises ConfigError)."""
  source = _source(options)
  streaming = isinstance(source, PubSubSourceConfig)
  tables = cdc_tables_config(options)
  common = common_configs(options, 'cdc_to_bigquery')
  changes = change_format_config(options, history=bool(tables.history))
  if common.sink.write_method == 'STORAGE_WRITE_API':
    raise ConfigError('--write_method only says how dead letters are written here: '
                      'STREAMING_INSERTS or FILE_LOADS')
  if streaming and common.sink.write_method == 'FILE_LOADS':
    raise ConfigError('--write_method FILE_LOADS is for batch; a streaming pipeline writes '
                      'its dead letters with STREAMING_INSERTS')
  convert('schema', check_reserved, common.schema)
  primary_key = convert('primary_key', check_row_schema, common.schema, changes.primary_key)
  masking = masking_config(options, common.schema)
  policy = None
  row_schema = common.schema
  if masking is not None:
    policy = convert('masking_policy', bind_change_policy, masking.policy, common.schema,
                     primary_key)
    row_schema = processed_row_schema(policy)
  enrichment = enrichment_config(options, common.pipeline_name)
  if enrichment is not None:
    convert('enrichment_fields', check_enrichment_keeps_key, enrichment, primary_key)
    row_schema = convert('enrichment_fields', enriched_schema, row_schema, enrichment)
  layouts, dead_letters = _layouts(options, row_schema, common.dead_letters)
  merge = None
  if tables.apply_mode == 'merge':
    merge = convert('output_table', MergeConfig, replica=tables.replica,
                    changelog=tables.changelog, history=tables.history,
                    primary_key=primary_key, staging_location=tables.staging_location,
                    interval_seconds=tables.merge_interval_seconds,
                    max_changes=tables.merge_max_changes,
                    apply_truncate=changes.apply_truncate,
                    retry_budget_seconds=retry_budget_of(options),
                    project=options.view_as(GoogleCloudOptions).project,
                    replica_layout=layouts.rows)
  elif layouts.rows is not None:
    raise ConfigError('--partition_field and --clustering_fields lay out the replica of '
                      '--apply_mode merge; with storage_write_cdc BigQuery makes the table')
  elif 'Dataflow' not in str(options.view_as(StandardOptions).runner or ''):
    raise ConfigError('--apply_mode storage_write_cdc runs on Dataflow only (BigQuery\'s '
                      'Storage Write API through Beam\'s Java expansion service); use '
                      '--apply_mode merge with this runner')
  return CdcPipelineConfig(
      source=source, schema=common.schema, parse=common.parse, changes=changes,
      row_schema=row_schema, dead_letters=dead_letters,
      pipeline_name=common.pipeline_name, streaming=streaming, merge=merge,
      storage_write_table=tables.replica if merge is None else None, masking=masking,
      change_policy=policy, enrichment=enrichment)
