"""File input and lake output options of ``files_to_bigquery``, and their typed configs:
``FileSourceConfig`` (``--input`` of ``FileInputOptions``, shared with ``cdc_to_bigquery``;
``--input_format``, ``--csv_*``, ``--input_split_bytes``)
and ``LakeSinkConfig`` (``--output_path``, ``--output_format``, ``--output_shards``).
"""

from typing import Optional

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options.values import (convert, convert_by_argument, parse_bool,
                                           parse_non_negative_int, require)
from beam_pipelines.transforms.read.file_splits import DEFAULT_SPLIT_BYTES
from beam_pipelines.transforms.read.files import FILE_FORMATS, FileSourceConfig
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat, parse_columns
from beam_pipelines.transforms.write.lake import LAKE_FORMATS, LakeSinkConfig


# Beam registers only *direct* subclasses of PipelineOptions with its parser, so every
# options class here subclasses it directly and defines each flag exactly once.
class FileInputOptions(PipelineOptions):
  """``--input``: the files a batch pipeline reads (``files_to_bigquery``,
  ``cdc_to_bigquery``)."""
  HELP_TITLE = 'Input files'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--input', help='Path or glob of the input files, local or e.g. '
                             'gs://my-bucket/events/*.jsonl (.gz/.bz2 decompressed by '
                             'suffix). A pattern matching no file is an error.')


class FilesToBigQueryOptions(PipelineOptions):
  """Options of ``files_to_bigquery`` (besides CommonOptions and FileInputOptions)."""
  HELP_TITLE = 'Input formats, and file (lake) output'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
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
                        help='Write validated rows as files instead of BigQuery (a lake '
                             'sink). With --load_mode incremental (default) or replace: a '
                             'folder; each run writes under <output_path>/run=<run_id>/ and '
                             'commits with one manifest in <output_path>/_loads/ (read the '
                             'committed files with committed_files(output_path)). With '
                             'append: a file prefix.')
    parser.add_argument('--output_format', default='parquet',
                        help=f'Lake file format with --output_path: {"|".join(LAKE_FORMATS)}.')
    parser.add_argument('--output_shards', default='0',
                        help='Number of lake files (0: the runner decides); --load_mode '
                             'append only.')


# CsvFormat's errors start with the argument they are about -> the option that sets it.
_CSV_OPTIONS = {'csv delimiter': 'csv_delimiter', 'csv quote_char': 'csv_quote_char',
                'csv columns': 'csv_columns', 'csv encoding': 'csv_encoding'}


def _delimiter(text):
  return '\t' if text in ('\\t', 'tab', 'TAB') else text


def input_pattern(options):
  """``--input``, or None when it is not given."""
  return options.view_as(FileInputOptions).input or None


def file_source_config(options):
  """FilesToBigQueryOptions -> FileSourceConfig (raises ConfigError naming the option)."""
  opts = options.view_as(FilesToBigQueryOptions)
  csv_format = None
  if opts.input_format == 'csv':
    csv_format = convert_by_argument(_CSV_OPTIONS, 'csv_delimiter', CsvFormat,
                         delimiter=_delimiter(opts.csv_delimiter),
                         quote_char=opts.csv_quote_char,
                         header=convert('csv_header', parse_bool, opts.csv_header),
                         columns=parse_columns(opts.csv_columns),
                         encoding=opts.csv_encoding)
  return convert('input_format', FileSourceConfig,
                 pattern=require(input_pattern(options), 'input'), format=opts.input_format,
                 csv=csv_format,
                 split_bytes=convert('input_split_bytes', parse_non_negative_int,
                                     opts.input_split_bytes))


def lake_sink_config(options) -> Optional[LakeSinkConfig]:
  """``--output_path`` and its format -> LakeSinkConfig, or None (rows go to BigQuery)."""
  opts = options.view_as(FilesToBigQueryOptions)
  if not opts.output_path:
    return None
  return convert('output_format', LakeSinkConfig, path=opts.output_path,
                 format=opts.output_format,
                 num_shards=convert('output_shards', int, opts.output_shards))
