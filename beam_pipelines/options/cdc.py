"""Options of ``cdc_to_bigquery`` and their typed configs: the change format
(``ChangeFormatConfig``), the tables and the merge settings (``CdcTablesConfig``).

    --cdc_format debezium|datastream|generic   --primary_key id[,col2]
    --changelog_table P:D.T   --history_table P:D.T   --merge_interval 60s
    --apply_mode merge|storage_write_cdc       --apply_truncate false

The input is ``--input`` (``FileInputOptions``: batch) or ``--input_subscription`` /
``--input_topic`` (``PubSubToBigQueryOptions``: streaming); ``beam_pipelines.cdc_config``
ties them together.
"""

import tempfile
from dataclasses import dataclass
from typing import Optional

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from beam_pipelines.options.common import CommonOptions
from beam_pipelines.options.values import (ConfigError, convert, parse_bool, parse_duration,
                                           parse_fields, require)
from beam_pipelines.transforms.cdc.config import (APPLY_MODES, CDC_FORMATS, DECIMAL_MODES,
                                                  DEFAULT_MAX_CHANGES_PER_MERGE,
                                                  TEMPORAL_MODES, ChangeFormatConfig,
                                                  ValueModes)
from beam_pipelines.transforms.core.table_spec import parse_table_spec

CHANGELOG_SUFFIX = '_changelog'
DEFAULT_KEY_ATTRIBUTE = 'ordering_key'


class CdcToBigQueryOptions(PipelineOptions):
  """Options of ``cdc_to_bigquery`` (besides CommonOptions, the inputs, masking and
  enrichment)."""

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--cdc_format', default='debezium',
                        help=f'Change record format: {"|".join(CDC_FORMATS)}.')
    parser.add_argument('--primary_key', default=None,
                        help='The replicated table\'s key column(s): id or id,col2.')
    parser.add_argument('--changelog_table', default=None,
                        help='Append-only change log, one row per distinct change (default '
                             '<output_table>_changelog).')
    parser.add_argument('--history_table', default=None,
                        help='SCD type 2 history table (optional): the row plus valid_from, '
                             'valid_to and is_current.')
    parser.add_argument('--merge_interval', default='60s',
                        help='Streaming: how often accepted changes are merged (30s, 5m).')
    parser.add_argument('--merge_max_changes', default=str(DEFAULT_MAX_CHANGES_PER_MERGE),
                        help='At most this many changes in one merge.')
    parser.add_argument('--apply_mode', default='merge',
                        help=f'How changes are applied: {"|".join(APPLY_MODES)} '
                             '(storage_write_cdc: Dataflow only, replica only).')
    parser.add_argument('--apply_truncate', default='false',
                        help='Apply op t (truncate) by removing every older row, instead of '
                             'dead-lettering it (true|false).')
    parser.add_argument('--op_field', default=None,
                        help='Generic format: the field naming the operation.')
    parser.add_argument('--sequence_fields', default=None,
                        help='Generic format: the field(s) ordering the changes, a,b.')
    parser.add_argument('--source_time_field', default=None,
                        help='Generic format: the TIMESTAMP field giving the source time '
                             '(valid_from; required with --history_table).')
    parser.add_argument('--cdc_temporal_mode', default='reject',
                        help='Debezium without a schema envelope: integer TIMESTAMP/DATETIME/'
                             'TIME values are reject|millis|micros|nanos, or column=mode '
                             'entries.')
    parser.add_argument('--cdc_decimal_mode', default='reject',
                        help='Debezium without a schema envelope: text NUMERIC values are '
                             'reject|precise|string|double, or column=mode entries.')
    parser.add_argument('--key_attribute', default=DEFAULT_KEY_ATTRIBUTE,
                        help='Message attribute holding the record key (a delete without a '
                             'before image takes its key from it; the Pub/Sub ordering key '
                             'is copied to it).')


@dataclass(frozen=True)
class CdcTablesConfig:
  """The tables and merge settings of a run, validated (what the options say; the processed
  row schema and the staging folder are tied in by ``beam_pipelines.cdc_config``)."""
  apply_mode: str
  replica: str
  changelog: Optional[str]
  history: Optional[str]
  merge_interval_seconds: float
  merge_max_changes: int
  staging_location: str


def change_format_config(options, history=False):
  """CdcToBigQueryOptions -> ChangeFormatConfig (raises ConfigError naming the option)."""
  opts = options.view_as(CdcToBigQueryOptions)
  if opts.cdc_format not in CDC_FORMATS:
    raise ConfigError(f'--cdc_format must be one of {"|".join(CDC_FORMATS)}, got '
                      f'{opts.cdc_format!r}')
  primary_key = parse_fields(require(opts.primary_key, 'primary_key'))
  generic = opts.cdc_format == 'generic'
  for name in ('op_field', 'sequence_fields', 'source_time_field'):
    if getattr(opts, name) and not generic:
      raise ConfigError(f'--{name} is for --cdc_format generic')
  if generic:
    require(opts.op_field, 'op_field')
    require(opts.sequence_fields, 'sequence_fields')
    if history and not opts.source_time_field:
      raise ConfigError('--source_time_field is required with --history_table for '
                        '--cdc_format generic (valid_from is the source time)')
  temporal = convert('cdc_temporal_mode', ValueModes.parse, opts.cdc_temporal_mode,
                     TEMPORAL_MODES, 'cdc_temporal_mode')
  decimal = convert('cdc_decimal_mode', ValueModes.parse, opts.cdc_decimal_mode,
                    DECIMAL_MODES, 'cdc_decimal_mode')
  return convert(
      'primary_key', ChangeFormatConfig, primary_key=primary_key, format=opts.cdc_format,
      op_field=opts.op_field or None, sequence_fields=parse_fields(opts.sequence_fields),
      source_time_field=opts.source_time_field or None, temporal_mode=temporal,
      decimal_mode=decimal, key_attribute=opts.key_attribute or None,
      apply_truncate=convert('apply_truncate', parse_bool, opts.apply_truncate),
      require_source_time=history)


def _table(value, name):
  if value:
    convert(name, parse_table_spec, value, 'table')
  return value or None


def cdc_tables_config(options):
  """CdcToBigQueryOptions (and --output_table, --temp_location) -> CdcTablesConfig."""
  opts = options.view_as(CdcToBigQueryOptions)
  replica = require(options.view_as(CommonOptions).output_table, 'output_table')
  convert('output_table', parse_table_spec, replica, 'table')
  if opts.apply_mode not in APPLY_MODES:
    raise ConfigError(f'--apply_mode must be one of {"|".join(APPLY_MODES)}, got '
                      f'{opts.apply_mode!r}')
  changelog = _table(opts.changelog_table, 'changelog_table')
  history = _table(opts.history_table, 'history_table')
  if opts.apply_mode == 'storage_write_cdc':
    for name, value in (('changelog_table', changelog), ('history_table', history)):
      if value:
        raise ConfigError(f'--{name} needs --apply_mode merge (storage_write_cdc writes the '
                          'replica only)')
    if convert('apply_truncate', parse_bool, opts.apply_truncate):
      raise ConfigError('--apply_truncate needs --apply_mode merge')
  else:
    changelog = changelog or replica + CHANGELOG_SUFFIX
  interval = convert('merge_interval', parse_duration, opts.merge_interval)
  if not interval > 0:
    raise ConfigError(f'--merge_interval must be more than 0, got {opts.merge_interval!r}')
  max_changes = convert('merge_max_changes', int, opts.merge_max_changes)
  if max_changes < 1:
    raise ConfigError(f'--merge_max_changes must be 1 or more, got {opts.merge_max_changes!r}')
  # Staging files: under --temp_location (gs:// on Dataflow), else the local temp folder (the
  # local emulator reads load files from the local disk).
  staging = options.view_as(GoogleCloudOptions).temp_location or tempfile.gettempdir()
  return CdcTablesConfig(apply_mode=opts.apply_mode, replica=replica, changelog=changelog,
                         history=history, merge_interval_seconds=interval,
                         merge_max_changes=max_changes,
                         staging_location=staging.rstrip('/') + '/cdc-staging')
