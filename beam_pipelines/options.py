"""Pipeline options, converted once into frozen config dataclasses.

Options are the only place command-line flags exist; transforms take the typed configs.
Every conversion problem raises ``ConfigError`` (a ValueError) naming the option, which the
``run()`` wrappers turn into one line on stderr and exit code 2 before any pipeline starts.
"""


from apache_beam.options.pipeline_options import (GoogleCloudOptions, PipelineOptions,
                                                  StandardOptions)

from transforms.bigquery_retry_budget import check_retry_budget
from transforms.dead_letters import (DEAD_LETTER_SINKS, DeadLetterSinkConfig,
                                     default_dead_letter_path, default_dead_letter_table)
from transforms.parse import DEFAULT_MAX_RECORD_BYTES, ParseConfig
from transforms.schema import load_schema
from transforms.sinks import WRITE_METHODS, BigQuerySinkConfig, parse_table_spec
from transforms.validate import NON_FINITE_POLICIES, UNKNOWN_FIELD_POLICIES, ValidationPolicy


class ConfigError(ValueError):
  """A bad option value; the message names the option."""


# --bigquery_retry_budget_seconds: a batch run should end, as a failure, within minutes of
# BigQuery going away. A streaming run should ride an outage out instead: Dataflow retries a
# failed streaming bundle forever anyway, and the DirectRunner acks Pub/Sub messages when it
# pulls them, so failing the run would lose the rows in flight.
BATCH_RETRY_BUDGET_SECONDS = 600


def _bool(text):
  value = str(text).strip().lower()
  if value in ('true', '1', 'yes'):
    return True
  if value in ('false', '0', 'no'):
    return False
  raise ValueError(f'expected true or false, got {text!r}')


def _non_negative_int(text):
  try:
    value = int(str(text).strip())
  except ValueError:
    raise ValueError(f'expected a whole number of bytes, got {text!r}') from None
  if value < 0:
    raise ValueError(f'must be 0 or more, got {value}')
  return value


class CommonOptions(PipelineOptions):
  """Options every pipeline of the suite shares: schema, validation, dead letters."""

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--schema', help='BigQuery table schema JSON file (bq mk format).')
    parser.add_argument('--output_table', help='Output table PROJECT:DATASET.TABLE.')
    parser.add_argument('--dead_letter_table', default=None,
                        help='Dead-letter table (default <output_table>_error_records).')
    parser.add_argument('--dead_letter_sink', default='bigquery', choices=list(DEAD_LETTER_SINKS),
                        help='Where dead letters go: a BigQuery table, JSONL files or a '
                             'Pub/Sub topic.')
    parser.add_argument('--dead_letter_path', default=None,
                        help='File prefix for dead letters when --dead_letter_sink=files.')
    parser.add_argument('--dead_letter_topic', default=None,
                        help='Topic projects/P/topics/T when --dead_letter_sink=pubsub.')
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
    parser.add_argument('--bigquery_retry_budget_seconds', default=None,
                        help='Once BigQuery calls for a table have failed this many seconds '
                             'with no success, the next failure fails the run loudly; 0: '
                             f'retry without limit. Default {BATCH_RETRY_BUDGET_SECONDS} for '
                             'batch, 0 for streaming.')


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


def _check_non_finite(opts):
  # ValidationPolicy checks it too, but its error would be reported under --unknown_fields.
  if opts.non_finite_floats not in NON_FINITE_POLICIES:
    raise ConfigError(f'--non_finite_floats must be one of {"|".join(NON_FINITE_POLICIES)}, '
                      f'got {opts.non_finite_floats!r}')


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


def common_configs(options, default_name, lake_path=None):
  """(schema, parse config, sink config, dead-letter config, name) from CommonOptions.

  With ``lake_path`` (rows go to files), there is no table: the sink config is None and
  dead letters default to JSONL files at ``<lake_path>_error_records`` unless
  ``--dead_letter_table`` or another ``--dead_letter_sink`` is given.
  """
  opts = options.view_as(CommonOptions)
  name = opts.pipeline_name or default_name
  schema = _convert('schema', load_schema, _require(opts.schema, 'schema'))
  budget = retry_budget_of(options)  # checked even when no table will use it
  if lake_path is not None:
    return (schema,) + _lake_configs(options, opts, name, lake_path)
  output_table = _require(opts.output_table, 'output_table')
  write_method = (opts.write_method or '').upper()
  if write_method not in WRITE_METHODS:
    raise ConfigError(f'--write_method must be one of {"|".join(WRITE_METHODS)}, '
                      f'got {opts.write_method!r}')
  _convert('output_table', parse_table_spec, output_table, 'table')
  temp_location = temp_location_of(options)
  sink = _convert('output_table', BigQuerySinkConfig, table=output_table,
                  write_method=write_method, temp_location=temp_location,
                  retry_budget_seconds=budget)
  _check_non_finite(opts)
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
  elif opts.dead_letter_sink == 'pubsub':
    dead = _convert('dead_letter_topic', DeadLetterSinkConfig, kind='pubsub',
                    topic=opts.dead_letter_topic)
  else:
    table = opts.dead_letter_table or default_dead_letter_table(output_table)
    dead_method = 'FILE_LOADS' if write_method == 'FILE_LOADS' else 'STREAMING_INSERTS'
    dead = _convert('dead_letter_table', DeadLetterSinkConfig, kind='bigquery', table=table,
                    write_method=dead_method, temp_location=temp_location,
                    retry_budget_seconds=budget)
  return schema, parse, sink, dead, name


def _lake_configs(options, opts, name, lake_path):
  """(parse, None, dead-letter config, name) for a run writing rows to files."""
  if opts.output_table:
    raise ConfigError('--output_table and --output_path are exclusive: rows go to BigQuery '
                      'or to files')
  _check_non_finite(opts)
  policy = _convert('unknown_fields', ValidationPolicy,
                    unknown_fields=opts.unknown_fields,
                    coerce_types=_convert('coerce_types', _bool, opts.coerce_types),
                    non_finite_floats=opts.non_finite_floats)
  max_bytes = _convert('max_record_bytes', int, opts.max_record_bytes)
  parse = _convert('max_record_bytes', ParseConfig, format='json', policy=policy,
                   max_record_bytes=max_bytes, pipeline_name=name)
  kind = opts.dead_letter_sink
  if kind == 'pubsub':
    dead = _convert('dead_letter_topic', DeadLetterSinkConfig, kind='pubsub',
                    topic=opts.dead_letter_topic)
  elif kind == 'bigquery' and opts.dead_letter_table:
    write_method = (opts.write_method or '').upper()
    dead = _convert('dead_letter_table', DeadLetterSinkConfig, kind='bigquery',
                    table=opts.dead_letter_table,
                    write_method='FILE_LOADS' if write_method == 'FILE_LOADS'
                    else 'STREAMING_INSERTS', temp_location=temp_location_of(options),
                    retry_budget_seconds=retry_budget_of(options))
  else:  # files: the given path, or next to the lake files
    dead = _convert('dead_letter_path', DeadLetterSinkConfig, kind='files',
                    path=opts.dead_letter_path or default_dead_letter_path(lake_path))
  return parse, None, dead, name


def stage_configs(options, schema, name, sink, lake=None):
  """(masking, enrichment, windowing) configs shared by every pipeline; each None when off.

  Windowing is checked against the schema of the rows it aggregates: masked, then enriched.
  """
  from beam_pipelines.chain import processed_schema
  from beam_pipelines.enrichment_options import enrichment_config
  from beam_pipelines.masking_options import masking_config
  from beam_pipelines.streaming_options import windowing_config
  masking = masking_config(options, schema)
  enrichment = enrichment_config(options, name)
  windowing = windowing_config(
      options, processed_schema(schema, masking, enrichment),
      sink.table if sink is not None else None,
      sink.write_method if sink is not None else None, temp_location_of(options), lake=lake)
  return masking, enrichment, windowing


def options_and_config(argv, prog, runner, to_config, streaming=False):
  """argv -> (PipelineOptions, config) for a pipeline's ``run()``.

  Names a runner when argv does not, adds emulator defaults, and turns a ConfigError into
  one line on stderr and exit code 2 before any pipeline is built.
  """
  import sys
  argv = list(sys.argv[1:] if argv is None else argv)
  argv += default_runner(argv, runner) + emulator_defaults(argv)
  options = PipelineOptions(argv)
  if streaming:
    from apache_beam.options.pipeline_options import StandardOptions
    options.view_as(StandardOptions).streaming = True
  try:
    return options, to_config(options)
  except ConfigError as e:
    print(f'{prog}: error: {e}', file=sys.stderr)
    raise SystemExit(2) from None


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
