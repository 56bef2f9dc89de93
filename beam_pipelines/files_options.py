"""Options of ``files_to_bigquery`` (besides ``CommonOptions``) and their typed config.

The shared conversions (schema, parse, sinks, dead letters, stages) are in
``beam_pipelines.options``; this module adds the file source, the lake sink and the
checks only a file input needs.
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options import (ConfigError, _bool, _convert, _non_negative_int, _require,
                                    common_configs, stage_configs, temp_location_of)
from transforms.csv_format import CsvFormat, check_schema_for_csv, parse_columns
from transforms.dead_letters import DeadLetterSinkConfig
from transforms.enrichment import EnrichmentConfig
from transforms.file_splits import DEFAULT_SPLIT_BYTES
from transforms.lake_sink import LAKE_FORMATS, LakeSinkConfig, WriteRowsToFiles
from transforms.parse import ParseConfig
from transforms.schema import TableSchema
from transforms.sinks import BigQuerySinkConfig
from transforms.sources import FILE_FORMATS, FileSourceConfig


# Beam registers only *direct* subclasses of PipelineOptions with its parser, so every
# options class here subclasses it directly and defines each flag exactly once.
class FilesToBigQueryOptions(PipelineOptions):
  """Options of ``files_to_bigquery`` (besides CommonOptions)."""

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--input', help='Input file path or glob (local or gs://).')
    parser.add_argument('--input_format', default='jsonl',
                        help=f'Input format: {"|".join(FILE_FORMATS)}.')
    parser.add_argument('--csv_delimiter', default=',',
                        help='CSV cell delimiter, one character (\\t or "tab" for TSV).')
    parser.add_argument('--csv_quote_char', default='"', help='CSV quote character.')
    parser.add_argument('--csv_header', default='true',
                        help='CSV files start with a header row naming the columns (true|false).')
    parser.add_argument('--csv_columns', default=None,
                        help='CSV column names a,b,c (required with --csv_header=false).')
    parser.add_argument('--csv_encoding', default='utf-8', help='CSV text encoding.')
    parser.add_argument('--input_split_bytes', default=str(DEFAULT_SPLIT_BYTES),
                        help='Read uncompressed JSONL files larger than this many bytes as '
                             'line-aligned ranges shared by the workers (0: every file '
                             'whole).')
    parser.add_argument('--output_path', default=None,
                        help='Write validated rows as files under this prefix instead of '
                             'BigQuery (a lake sink).')
    parser.add_argument('--output_format', default='parquet',
                        help=f'Lake file format with --output_path: {"|".join(LAKE_FORMATS)}.')
    parser.add_argument('--output_shards', default='0',
                        help='Number of lake files (0: the runner decides).')


@dataclass(frozen=True)
class FilesToBigQueryConfig:
  """Everything ``files_to_bigquery`` needs, validated."""
  source: FileSourceConfig
  schema: TableSchema
  parse: ParseConfig
  sink: Optional[BigQuerySinkConfig]
  dead_letters: DeadLetterSinkConfig
  pipeline_name: str
  lake: Optional[LakeSinkConfig] = None
  masking: object = None  # a masking_options.MaskingConfig, or None (no masking)
  # From beam_pipelines.enrichment_options.enrichment_config; None = no Enrich step.
  enrichment: Optional[EnrichmentConfig] = None
  windowing: Optional[object] = None  # streaming_options.AggregationConfig (--window)
  # From beam_pipelines.quality_options.quality_stage_config: quality rules, drift, summary.
  quality: object = None
  # From beam_pipelines.udf_options.udf_config: the --udf spec, or None (no user function).
  udf: Optional[str] = None


def _delimiter(text):
  return '\t' if text in ('\\t', 'tab', 'TAB') else text


def files_to_bigquery_config(options):
  """FilesToBigQueryOptions -> FilesToBigQueryConfig (raises ConfigError)."""
  opts = options.view_as(FilesToBigQueryOptions)
  csv_format = None
  if opts.input_format == 'csv':
    csv_format = _convert('csv_delimiter', CsvFormat,
                          delimiter=_delimiter(opts.csv_delimiter),
                          quote_char=opts.csv_quote_char,
                          header=_convert('csv_header', _bool, opts.csv_header),
                          columns=parse_columns(opts.csv_columns),
                          encoding=opts.csv_encoding)
  source = _convert('input_format', FileSourceConfig,
                    pattern=_require(opts.input, 'input'), format=opts.input_format,
                    csv=csv_format,
                    split_bytes=_convert('input_split_bytes', _non_negative_int,
                                         opts.input_split_bytes))
  lake = None
  if opts.output_path:
    lake = _convert('output_format', LakeSinkConfig, path=opts.output_path,
                    format=opts.output_format,
                    num_shards=_convert('output_shards', int, opts.output_shards))
  schema, parse, sink, dead, name = common_configs(
      options, 'files_to_bigquery', lake_path=lake.path if lake else None)
  if source.payload_format != parse.format:
    parse = _convert('input_format', dataclasses.replace, parse,
                     format=source.payload_format, csv=source.csv)
  if source.format == 'csv':
    _convert('schema', check_schema_for_csv, schema)
  if lake is not None:
    _convert('output_format', WriteRowsToFiles, lake, schema)  # schema fits the format
  elif sink.write_method == 'FILE_LOADS' and not temp_location_of(options):
    raise ConfigError('--temp_location is required with --write_method FILE_LOADS')
  masking, enrichment, windowing = stage_configs(options, schema, name, sink, lake)
  if windowing is not None and windowing.window.event_time_field is None:
    raise ConfigError('--event_time_field is required with --window for files (a file '
                      'record has no event time of its own)')
  from beam_pipelines.quality_options import quality_stage_config
  from beam_pipelines.udf_options import udf_config
  quality = quality_stage_config(options, schema, masking, enrichment, sink, lake)
  return FilesToBigQueryConfig(source=source, schema=schema, parse=parse, sink=sink,
                               dead_letters=dead, pipeline_name=name, lake=lake,
                               masking=masking, enrichment=enrichment, windowing=windowing,
                               quality=quality, udf=udf_config(options))
