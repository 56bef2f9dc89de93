"""Options every pipeline shares (schema, validation, BigQuery sink, dead letters), and their
typed configs.

Options are the only place command-line flags exist; transforms take the typed configs.
Every conversion problem raises ``ConfigError`` naming the option (``values``).
"""

from typing import NamedTuple, Optional

from apache_beam.options.pipeline_options import (GoogleCloudOptions, PipelineOptions,
                                                  StandardOptions)

from beam_pipelines.options.values import ConfigError, convert, parse_bool, require
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.validate.parse import DEFAULT_MAX_RECORD_BYTES, ParseConfig
from beam_pipelines.transforms.core.schema import TableSchema, load_schema
from beam_pipelines.transforms.validate.validator import NON_FINITE_POLICIES, ValidationPolicy
from beam_pipelines.transforms.write.bigquery import WRITE_METHODS, BigQuerySinkConfig
from beam_pipelines.transforms.write.dead_letters import (DEAD_LETTER_SINKS, DeadLetterSinkConfig,
                                           default_dead_letter_path, default_dead_letter_table)
from beam_pipelines.transforms.write.retry_budget import check_retry_budget

# --bigquery_retry_budget_seconds: a batch run should end, as a failure, within minutes of
# BigQuery going away. A streaming run should ride an outage out instead: Dataflow retries a
# failed streaming bundle forever anyway, and the DirectRunner acks Pub/Sub messages when it
# pulls them, so failing the run would lose the rows in flight.
BATCH_RETRY_BUDGET_SECONDS = 600


class CommonOptions(PipelineOptions):
  """Options every pipeline of the suite shares: schema, validation, dead letters."""
  HELP_TITLE = 'Schema, validation, BigQuery output and dead letters'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--schema',
                        help='BigQuery table schema JSON (the bq mk --schema format), e.g. '
                             'gs://my-bucket/schemas/events.json.')
    parser.add_argument('--output_table',
                        help='BigQuery table to write to, PROJECT:DATASET.TABLE or '
                             'PROJECT.DATASET.TABLE; required unless rows go to files '
                             '(output_path, where the pipeline has it). Created if needed; '
                             'the dataset must exist.')
    parser.add_argument('--dead_letter_table', default=None,
                        help='BigQuery table for bad records. Defaults to '
                             '<output_table>_error_records.')
    # Checked in _dead_letter_config, not by argparse ``choices``: a bad value is one line
    # naming the option, like every other option error.
    parser.add_argument('--dead_letter_sink', default='bigquery',
                        help=f'Where dead letters go: {"|".join(DEAD_LETTER_SINKS)} (a '
                             'BigQuery table, JSONL files or a Pub/Sub topic).')
    parser.add_argument('--dead_letter_path', default=None,
                        help='File prefix for dead letters when dead_letter_sink is files, e.g. '
                             'gs://my-bucket/errors/run1.')
    parser.add_argument('--dead_letter_topic', default=None,
                        help='Topic projects/P/topics/T when dead_letter_sink is pubsub.')
    parser.add_argument('--write_method', default='STREAMING_INSERTS',
                        help=f'BigQuery write method: {"|".join(WRITE_METHODS)}.')
    parser.add_argument('--unknown_fields', default='ignore',
                        help='What to do with fields the schema lacks: ignore (drop them), dead_letter '
                             'the record, or schema_drift (as schema_drift says).')
    parser.add_argument('--coerce_types', default='false',
                        help='Accept strings such as "42" or "true" for numbers and booleans '
                             '(true|false).')
    parser.add_argument('--non_finite_floats', default='reject',
                        help='NaN/Infinity in FLOAT64 columns: reject (dead letter), allow, or store '
                             'NULL.')
    parser.add_argument('--max_record_bytes', default=str(DEFAULT_MAX_RECORD_BYTES),
                        help='Records larger than this many bytes become payload_too_large dead '
                             'letters.')
    parser.add_argument('--pipeline_name', default=None,
                        help="Name recorded in each dead letter's pipeline field (default: the "
                             "pipeline's name).")
    parser.add_argument('--bigquery_retry_budget_seconds', default=None,
                        help='Once BigQuery calls for a table have failed this many seconds '
                             'with no success in between, the next failure fails the run '
                             'naming the table and the last error; 0: retry without limit '
                             f'(Beam\'s own retries). Default {BATCH_RETRY_BUDGET_SECONDS} for '
                             'batch; 0 for streaming, riding out an outage (Dataflow '
                             'retries failed streaming bundles anyway).')


class CommonConfigs(NamedTuple):
  """What CommonOptions configure, validated."""
  schema: TableSchema
  parse: ParseConfig
  sink: Optional[BigQuerySinkConfig]  # None when rows go to files (--output_path)
  dead_letters: DeadLetterSinkConfig
  pipeline_name: str


def retry_budget_of(options):
  """--bigquery_retry_budget_seconds as a float: its default depends on batch/streaming."""
  text = options.view_as(CommonOptions).bigquery_retry_budget_seconds
  if text is None or str(text).strip() == '':
    return 0.0 if options.view_as(StandardOptions).streaming else BATCH_RETRY_BUDGET_SECONDS
  try:
    return check_retry_budget(float(text))
  except ValueError:
    raise ConfigError('--bigquery_retry_budget_seconds must be 0 (retry without limit) or a '
                      f'positive number of seconds, got {text!r}') from None


def temp_location_of(options):
  return options.view_as(GoogleCloudOptions).temp_location


def write_method_of(options):
  """--write_method, upper-cased and checked."""
  text = options.view_as(CommonOptions).write_method
  method = (text or '').upper()
  if method not in WRITE_METHODS:
    raise ConfigError(f'--write_method must be one of {"|".join(WRITE_METHODS)}, got {text!r}')
  return method


def side_table_write_method(write_method):
  """The write method of a side table (dead letters, quality scores): FILE_LOADS when the
  rows use load jobs, else STREAMING_INSERTS (STORAGE_WRITE_API is for the rows table)."""
  return 'FILE_LOADS' if write_method == 'FILE_LOADS' else 'STREAMING_INSERTS'


def common_configs(options, default_name, lake_path=None):
  """CommonOptions -> CommonConfigs (raises ConfigError naming the option).

  With ``lake_path`` (rows go to files), there is no table: the sink config is None and
  dead letters default to JSONL files at ``<lake_path>_error_records`` unless
  ``--dead_letter_table`` or another ``--dead_letter_sink`` is given.
  """
  opts = options.view_as(CommonOptions)
  name = opts.pipeline_name or default_name
  schema = convert('schema', load_schema, require(opts.schema, 'schema'))
  budget = retry_budget_of(options)  # checked even when no table will use it
  sink = None
  if lake_path is None:
    output_table = require(opts.output_table, 'output_table')
    convert('output_table', parse_table_spec, output_table, 'table')
    sink = convert('output_table', BigQuerySinkConfig, table=output_table,
                   write_method=write_method_of(options),
                   temp_location=temp_location_of(options), retry_budget_seconds=budget)
  elif opts.output_table:
    raise ConfigError('--output_table and --output_path are exclusive: rows go to BigQuery '
                      'or to files')
  return CommonConfigs(schema=schema, parse=_parse_config(opts, name), sink=sink,
                       dead_letters=_dead_letter_config(options, sink, lake_path),
                       pipeline_name=name)


def _parse_config(opts, name):
  if opts.non_finite_floats not in NON_FINITE_POLICIES:
    # ValidationPolicy checks it too, but its error would name --unknown_fields.
    raise ConfigError(f'--non_finite_floats must be one of {"|".join(NON_FINITE_POLICIES)}, '
                      f'got {opts.non_finite_floats!r}')
  policy = convert('unknown_fields', ValidationPolicy,
                   unknown_fields=opts.unknown_fields,
                   coerce_types=convert('coerce_types', parse_bool, opts.coerce_types),
                   non_finite_floats=opts.non_finite_floats)
  max_bytes = convert('max_record_bytes', int, opts.max_record_bytes)
  return convert('max_record_bytes', ParseConfig, format='json', policy=policy,
                 max_record_bytes=max_bytes, pipeline_name=name)


def _dead_letter_config(options, sink, lake_path):
  opts = options.view_as(CommonOptions)
  if opts.dead_letter_sink not in DEAD_LETTER_SINKS:
    raise ConfigError(f'--dead_letter_sink must be one of {"|".join(DEAD_LETTER_SINKS)}, '
                      f'got {opts.dead_letter_sink!r}')
  # An option the chosen sink does not use would be ignored without a word: say so.
  unused = {'bigquery': ('dead_letter_path', 'dead_letter_topic'),
            'files': ('dead_letter_table', 'dead_letter_topic'),
            'pubsub': ('dead_letter_table', 'dead_letter_path')}[opts.dead_letter_sink]
  for name in unused:
    if getattr(opts, name):
      raise ConfigError(f'--{name} is not used with --dead_letter_sink '
                        f'{opts.dead_letter_sink}')
  if opts.dead_letter_sink == 'pubsub':
    return convert('dead_letter_topic', DeadLetterSinkConfig, kind='pubsub',
                   topic=opts.dead_letter_topic)
  if opts.dead_letter_sink == 'files' or (lake_path is not None and not opts.dead_letter_table):
    # files: the given path, or next to the lake files
    path = opts.dead_letter_path or (default_dead_letter_path(lake_path) if lake_path else None)
    return convert('dead_letter_path', DeadLetterSinkConfig, kind='files', path=path)
  table = opts.dead_letter_table or default_dead_letter_table(sink.table)
  return convert('dead_letter_table', DeadLetterSinkConfig, kind='bigquery', table=table,
                 write_method=side_table_write_method(write_method_of(options)),
                 temp_location=temp_location_of(options),
                 retry_budget_seconds=retry_budget_of(options))
