"""Enrichment options: ``--enrichment_*`` flags -> ``EnrichmentConfig`` (None without them).

Source syntax (``--enrichment_source``, read by ``beam_pipelines.transforms.enrichment.parse_source``):
  * a file path or ``gs://`` URI: ``.jsonl``/``.ndjson``/``.json`` or ``.csv`` (optionally
    ``.gz``/``.bz2``); force a format with a prefix: ``csv:path``, ``jsonl:path``;
  * ``bq://PROJECT.DATASET.TABLE`` or ``bq://DATASET.TABLE`` (``--project``'s project);
  * ``bq-query:SELECT ...`` — a GoogleSQL query (quote it for the shell).

The ``Enrich`` step is wired by ``beam_pipelines.chain_steps``.
"""

from apache_beam.options.pipeline_options import (GoogleCloudOptions, PipelineOptions,
                                                  StandardOptions)

from beam_pipelines.options.values import ConfigError, convert
from beam_pipelines.transforms.enrichment.config import (COLLISION_POLICIES, DEFAULT_REFRESH_HORIZON_SECONDS,
                                          DUPLICATE_POLICIES, MISSING_POLICIES, MODES,
                                          REFRESH_STRATEGIES, REFRESH_TIMES, EnrichmentConfig,
                                          refresh_strategy_for)
from beam_pipelines.transforms.enrichment.sources.spec import parse_source


# Subclasses PipelineOptions directly: Beam registers only direct subclasses.
class EnrichmentOptions(PipelineOptions):
  """``--enrichment_*``: join rows with a lookup table (see docs/enrichment.md)."""
  HELP_TITLE = 'Enrichment (join rows with a lookup table)'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument(
        '--enrichment_source', default=None,
        help='Lookup table: a JSONL/CSV file (local or gs://; csv:/jsonl: prefix forces the '
             'format), bq://[PROJECT.]DATASET.TABLE, or bq-query:SELECT ... '
             'Unset: no enrichment step.')
    parser.add_argument(
        '--enrichment_keys', default=None,
        help='Comma-separated join keys: ROW_PATH or ROW_PATH=LOOKUP_COLUMN '
             '(dotted paths into nested records allowed), e.g. user.address.country=code.')
    parser.add_argument(
        '--enrichment_fields', default=None,
        help='Comma-separated lookup columns to add: COLUMN or COLUMN:OUTPUT_NAME.')
    parser.add_argument('--enrichment_prefix', default='',
                        help='Prefix for added fields that are not renamed.')
    parser.add_argument('--enrichment_missing', default='keep',
                        help=f'Rows without a lookup entry: {"|".join(MISSING_POLICIES)}.')
    parser.add_argument('--enrichment_collision', default='lookup_wins',
                        help='Row already has a different value: '
                             f'{"|".join(COLLISION_POLICIES)}.')
    parser.add_argument('--enrichment_duplicates', default='last_wins',
                        help=f'Duplicate lookup keys: {"|".join(DUPLICATE_POLICIES)}.')
    parser.add_argument('--enrichment_mode', default='broadcast',
                        help=f'Join mode: {"|".join(MODES)} (keyed: batch, any lookup size).')
    parser.add_argument('--enrichment_refresh_seconds', default=None,
                        help='Streaming: reload the lookup every N seconds.')
    parser.add_argument('--enrichment_refresh_strategy', default='auto',
                        help='How a refreshing lookup is reloaded: '
                             f'{"|".join(REFRESH_STRATEGIES)} (auto: side_input on Dataflow, '
                             'worker elsewhere).')
    parser.add_argument('--enrichment_refresh_horizon_seconds',
                        default=str(DEFAULT_REFRESH_HORIZON_SECONDS),
                        help='Streaming, side_input refresh: how long refreshes run (bounded '
                             'impulse).')
    parser.add_argument('--enrichment_refresh_time', default='processing',
                        help=f'Which time picks the lookup version: {"|".join(REFRESH_TIMES)}.')
    parser.add_argument('--enrichment_version_field', default=None,
                        help='Refreshing lookups: a TIMESTAMP column recording the lookup '
                             'version each row was enriched with.')


def _split(text):
  return [part.strip() for part in (text or '').split(',') if part.strip()]


def _number(name, text):
  if text is None or str(text).strip() == '':
    return None
  try:
    return float(text)
  except ValueError:
    raise ConfigError(f'--{name}: expected a number of seconds, got {text!r}') from None


# EnrichmentConfig argument -> the option that sets it, so errors name the flag.
_OPTION_OF = {
    'source': 'enrichment_source', 'keys': 'enrichment_keys',
    'lookup_keys': 'enrichment_keys', 'fields': 'enrichment_fields',
    'rename': 'enrichment_fields', 'prefix': 'enrichment_prefix',
    'missing': 'enrichment_missing', 'collision': 'enrichment_collision',
    'duplicates': 'enrichment_duplicates', 'mode': 'enrichment_mode',
    'refresh_seconds': 'enrichment_refresh_seconds',
    'refresh_horizon_seconds': 'enrichment_refresh_horizon_seconds',
    'refresh_time': 'enrichment_refresh_time',
    'refresh_strategy': 'enrichment_refresh_strategy',
    'version_field': 'enrichment_version_field',
}


def enrichment_config(options, pipeline_name=None):
  """EnrichmentOptions -> EnrichmentConfig, or None when ``--enrichment_source`` is unset.

  Raises:
    ConfigError: naming the option (e.g. ``--enrichment_missing must be one of ...``).
  """
  opts = options.view_as(EnrichmentOptions)
  if not opts.enrichment_source:
    given = [f for f in ('enrichment_keys', 'enrichment_fields')
             if getattr(opts, f, None)]
    if given:
      raise ConfigError(f'--enrichment_source is required with --{given[0]}')
    return None
  project = options.view_as(GoogleCloudOptions).project
  source = convert('enrichment_source', parse_source, opts.enrichment_source, project)
  key_specs = _split(opts.enrichment_keys)
  if not key_specs:
    raise ConfigError('--enrichment_keys is required with --enrichment_source')
  keys, lookup_keys = [], []
  for spec in key_specs:
    row_path, _, lookup_column = spec.partition('=')
    keys.append(row_path.strip())
    lookup_keys.append((lookup_column or row_path).strip())
  field_specs = _split(opts.enrichment_fields)
  if not field_specs:
    raise ConfigError('--enrichment_fields is required with --enrichment_source (the '
                      'output table needs to know the added columns)')
  fields, rename = [], []
  for spec in field_specs:
    column, _, alias = spec.partition(':')
    fields.append(column.strip())
    if alias.strip():
      rename.append((column.strip(), alias.strip()))
  kwargs = dict(
      source=source, keys=tuple(keys), lookup_keys=tuple(lookup_keys), fields=tuple(fields),
      rename=tuple(rename), prefix=opts.enrichment_prefix or '',
      missing=opts.enrichment_missing, collision=opts.enrichment_collision,
      duplicates=opts.enrichment_duplicates, mode=opts.enrichment_mode,
      refresh_seconds=_number('enrichment_refresh_seconds', opts.enrichment_refresh_seconds),
      refresh_horizon_seconds=_number('enrichment_refresh_horizon_seconds',
                                      opts.enrichment_refresh_horizon_seconds),
      refresh_time=opts.enrichment_refresh_time,
      refresh_strategy=opts.enrichment_refresh_strategy,
      version_field=opts.enrichment_version_field or None, pipeline_name=pipeline_name)
  try:
    config = EnrichmentConfig(**kwargs)
    _check_runner(config, options)
  except ValueError as e:
    message = str(e)
    argument = message.split(' ', 1)[0].split(':', 1)[0].split('/', 1)[0]
    option = _OPTION_OF.get(argument, 'enrichment_source')
    if argument in _OPTION_OF and message.startswith(argument + ': '):
      message = message[len(argument) + 2:]  # the option names it now
    raise ConfigError(f'--{option}: {message}') from None
  return config


def _check_runner(config, options):
  """What EnrichWithSideInput would refuse while the graph is built, said now (ValueError
  naming the argument): refresh in batch, keyed joins in streaming, a refresh strategy the
  runner cannot run."""
  standard = options.view_as(StandardOptions)
  if config.mode == 'keyed' and standard.streaming:
    raise ValueError('mode: keyed joins run in batch pipelines only; use broadcast '
                     '(optionally with refresh_seconds) in streaming')
  if config.refresh_seconds is None:
    return
  if not standard.streaming:
    raise ValueError('refresh_seconds needs a streaming pipeline; a batch pipeline loads the '
                     'lookup once')
  refresh_strategy_for(config, standard.runner)
