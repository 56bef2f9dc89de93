"""Pipeline options, converted once into frozen config dataclasses.

Options are the only place command-line flags exist; transforms take the typed configs.
Every conversion problem raises ``ConfigError`` (a ValueError) naming the option, which the
``run()`` wrappers turn into one line on stderr and exit code 2 before any pipeline starts.
"""

import os
from dataclasses import dataclass
from typing import Optional

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from transforms.dead_letters import DeadLetterSinkConfig, default_dead_letter_table
from transforms.parse import DEFAULT_MAX_RECORD_BYTES, ParseConfig
from transforms.schema import TableSchema, load_schema
from transforms.sinks import WRITE_METHODS, BigQuerySinkConfig, parse_table_spec
from transforms.sources import FILE_FORMATS, FileSourceConfig
from transforms.validate import NON_FINITE_POLICIES, UNKNOWN_FIELD_POLICIES, ValidationPolicy


class ConfigError(ValueError):
  """A bad option value; the message names the option."""


def _bool(text):
  value = str(text).strip().lower()
  if value in ('true', '1', 'yes'):
    return True
  if value in ('false', '0', 'no'):
    return False
  raise ValueError(f'expected true or false, got {text!r}')


class CommonOptions(PipelineOptions):
  """Options every pipeline of the suite shares: schema, validation, dead letters."""

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--schema', help='BigQuery table schema JSON file (bq mk format).')
    parser.add_argument('--output_table', help='Output table PROJECT:DATASET.TABLE.')
    parser.add_argument('--dead_letter_table', default=None,
                        help='Dead-letter table (default <output_table>_error_records).')
    parser.add_argument('--dead_letter_sink', default='bigquery', choices=['bigquery', 'files'],
                        help='Where dead letters go: a BigQuery table or JSONL files.')
    parser.add_argument('--dead_letter_path', default=None,
                        help='File prefix for dead letters when --dead_letter_sink=files.')
    parser.add_argument('--write_method', default='STREAMING_INSERTS',
                        help=f'BigQuery write method: {"|".join(WRITE_METHODS)}.')
    parser.add_argument('--unknown_fields', default='ignore',
                        help=f'Fields the schema lacks: {"|".join(UNKNOWN_FIELD_POLICIES)}.')
    parser.add_argument('--coerce_types', default='false',
                        help='Accept "42"-style strings for numbers and booleans (true|false).')
    parser.add_argument('--non_finite_floats', default='reject',
                        help=f'NaN/Infinity in FLOAT64: {"|".join(NON_FINITE_POLICIES)}.')
    parser.add_argument('--max_record_bytes', default=str(DEFAULT_MAX_RECORD_BYTES),
                        help='Larger records become payload_too_large dead letters.')
    parser.add_argument('--pipeline_name', default=None,
                        help='Name recorded in each dead letter (default: the pipeline).')


# Beam registers only *direct* subclasses of PipelineOptions with its parser, so every
# options class here subclasses it directly and defines each flag exactly once.
class FilesToBigQueryOptions(PipelineOptions):
  """Options of ``files_to_bigquery`` (besides CommonOptions)."""

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--input', help='Input file path or glob (local or gs://).')
    parser.add_argument('--input_format', default='jsonl',
                        help=f'Input format: {"|".join(FILE_FORMATS)}.')


@dataclass(frozen=True)
class FilesToBigQueryConfig:
  """Everything ``files_to_bigquery`` needs, validated."""
  source: FileSourceConfig
  schema: TableSchema
  parse: ParseConfig
  sink: BigQuerySinkConfig
  dead_letters: DeadLetterSinkConfig
  pipeline_name: str
  windowing: Optional[object] = None  # streaming_options.AggregationConfig (--window)


def _require(value, name):
  if value is None or str(value).strip() == '':
    raise ConfigError(f'--{name} is required')
  return value


def _convert(name, fn, *args, **kwargs):
  """Runs a config constructor, re-raising ValueError as ConfigError naming the option."""
  try:
    return fn(*args, **kwargs)
  except ConfigError:
    raise
  except ValueError as e:
    raise ConfigError(f'--{name}: {e}') from None


def temp_location_of(options):
  return options.view_as(GoogleCloudOptions).temp_location


def common_configs(options, default_name):
  """(schema, parse config, sink config, dead-letter config, name) from CommonOptions."""
  opts = options.view_as(CommonOptions)
  name = opts.pipeline_name or default_name
  schema = _convert('schema', load_schema, _require(opts.schema, 'schema'))
  output_table = _require(opts.output_table, 'output_table')
  write_method = (opts.write_method or '').upper()
  if write_method not in WRITE_METHODS:
    raise ConfigError(f'--write_method must be one of {"|".join(WRITE_METHODS)}, '
                      f'got {opts.write_method!r}')
  _convert('output_table', parse_table_spec, output_table, 'table')
  temp_location = temp_location_of(options)
  sink = _convert('output_table', BigQuerySinkConfig, table=output_table,
                  write_method=write_method, temp_location=temp_location)
  policy = _convert('unknown_fields', ValidationPolicy,
                    unknown_fields=opts.unknown_fields,
                    coerce_types=_convert('coerce_types', _bool, opts.coerce_types),
                    non_finite_floats=opts.non_finite_floats)
  max_bytes = _convert('max_record_bytes', int, opts.max_record_bytes)
  parse = _convert('max_record_bytes', ParseConfig, format='json', policy=policy,
                   max_record_bytes=max_bytes, pipeline_name=name)
  if opts.dead_letter_sink == 'files':
    dead = _convert('dead_letter_path', DeadLetterSinkConfig, kind='files',
                    path=opts.dead_letter_path)
  else:
    table = opts.dead_letter_table or default_dead_letter_table(output_table)
    dead_method = 'FILE_LOADS' if write_method == 'FILE_LOADS' else 'STREAMING_INSERTS'
    dead = _convert('dead_letter_table', DeadLetterSinkConfig, kind='bigquery', table=table,
                    write_method=dead_method, temp_location=temp_location)
  return schema, parse, sink, dead, name


def files_to_bigquery_config(options):
  """FilesToBigQueryOptions -> FilesToBigQueryConfig (raises ConfigError)."""
  opts = options.view_as(FilesToBigQueryOptions)
  source = _convert('input_format', FileSourceConfig,
                    pattern=_require(opts.input, 'input'), format=opts.input_format)
  schema, parse, sink, dead, name = common_configs(options, 'files_to_bigquery')
  if sink.write_method == 'FILE_LOADS' and not temp_location_of(options):
    raise ConfigError('--temp_location is required with --write_method FILE_LOADS')
  from beam_pipelines.streaming_options import windowing_config
  windowing = windowing_config(options, schema, sink.table, sink.write_method,
                               temp_location_of(options))
  if windowing is not None and windowing.window.event_time_field is None:
    raise ConfigError('--event_time_field is required with --window for files (a file '
                      'record has no event time of its own)')
  return FilesToBigQueryConfig(source=source, schema=schema, parse=parse, sink=sink,
                               dead_letters=dead, pipeline_name=name, windowing=windowing)


def emulator_defaults(argv):
  """Extra argv for runs against the emulator: a project when none is given."""
  from transforms.bigquery_endpoint import emulator_host, emulator_project
  if emulator_host() and not any(a == '--project' or a.startswith('--project=')
                                 for a in argv):
    return ['--project', emulator_project()]
  return []


def default_runner(argv, runner):
  """Names a runner explicitly when the user did not: the bare DirectRunner first tries to
  download Prism, which fails offline after a delay."""
  if any(a == '--runner' or a.startswith('--runner=') for a in argv):
    return []
  return ['--runner', runner]
