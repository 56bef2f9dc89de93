"""Table layout and retention options, and the ``TableLayout`` of every table a run creates.

    --partition_field event_time        rows table partitioned by this DATE/TIMESTAMP/DATETIME
                                        column (_PARTITIONTIME: by ingestion time)
    --partition_granularity DAY         HOUR|DAY|MONTH|YEAR
    --clustering_fields a,b             rows table clustered by up to 4 top-level columns
    --partition_expiration_days 400     partitions expire (retention)
    --dead_letter_retention_days 30     the dead-letter table's own retention

With a partition field, every side table is partitioned too, each by its own time column:
dead letters by ``timestamp`` (DAY, clustered by errorType), aggregates and quality scores by
``window_start`` (at the same granularity; aggregates clustered by their key columns). The
load manifest is clustered by ``path`` and never expires (it is what keeps reruns from
loading a file twice). Layouts apply when a table is created; an existing table keeps its own.
"""

from typing import NamedTuple, Optional

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options.values import ConfigError, convert_by_argument, parse_fields
from beam_pipelines.transforms.core.table_layout import (INGESTION_TIME, MAX_CLUSTERING_FIELDS,
                                                         TableLayout)
from beam_pipelines.transforms.write.dead_letters import dead_letter_layout

# TableLayout's errors start with the argument they are about -> the option that sets it.
_LAYOUT_OPTIONS = {'partition_granularity': 'partition_granularity',
                   'partition_expiration_days': 'partition_expiration_days',
                   'clustering_fields': 'clustering_fields',
                   'partition_field': 'partition_field'}
LAYOUT_FLAGS = ('partition_field', 'partition_granularity', 'clustering_fields',
                'partition_expiration_days', 'dead_letter_retention_days')
# The manifest of file loads: looked up by path, never expired.
MANIFEST_LAYOUT = TableLayout(clustering_fields=('path',))


class TableLayoutOptions(PipelineOptions):
  """Partitioning, clustering and retention of the tables a pipeline creates."""
  HELP_TITLE = 'Table layout and retention'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--partition_field', default=None,
                        help='Partition the rows table by this top-level DATE, TIMESTAMP or '
                             f'DATETIME column ({INGESTION_TIME}: by ingestion time); side '
                             'tables are then partitioned by their own time column. Unset: '
                             'no partitioning.')
    parser.add_argument('--partition_granularity', default='DAY',
                        help='Partition size: HOUR|DAY|MONTH|YEAR (a DATE column: DAY, MONTH '
                             'or YEAR).')
    parser.add_argument('--clustering_fields', default=None,
                        help=f'Cluster the rows table by up to {MAX_CLUSTERING_FIELDS} '
                             'top-level columns, e.g. event_type,country_code.')
    parser.add_argument('--partition_expiration_days', default=None,
                        help='Retention: partitions of the rows, aggregates, quality and '
                             'dead-letter tables are deleted this many days after their end '
                             '(needs partition_field). Unset: kept.')
    parser.add_argument('--dead_letter_retention_days', default=None,
                        help='Retention of the dead-letter table (partitioned by its '
                             'timestamp), e.g. 30: dead letters hold masked payloads and may '
                             'go sooner than rows. Default: partition_expiration_days.')


class TableLayouts(NamedTuple):
  """The layout of each table a run creates (None: BigQuery's default, no partitions)."""
  rows: Optional[TableLayout] = None
  dead_letters: Optional[TableLayout] = None
  aggregates: Optional[TableLayout] = None
  quality: Optional[TableLayout] = None
  manifest: TableLayout = MANIFEST_LAYOUT


def _days(text, name):
  if text is None or str(text).strip() == '':
    return None
  try:
    days = float(text)
  except ValueError:
    raise ConfigError(f'--{name}: expected a number of days, got {text!r}') from None
  if not 0 < days < float('inf'):
    raise ConfigError(f'--{name}: expected a positive number of days, got {text!r}')
  return days


def layout_options_given(options):
  """The layout flags given a value other than their default."""
  opts = options.view_as(TableLayoutOptions)
  given = [name for name in LAYOUT_FLAGS
           if name != 'partition_granularity' and getattr(opts, name) not in (None, '')]
  if str(opts.partition_granularity or 'DAY').upper() != 'DAY':
    given.append('partition_granularity')
  return given


def table_layouts(options, rows_schema, aggregate_keys=(), tables=True,
                  dead_letter_table=True):
  """TableLayoutOptions -> TableLayouts for rows of ``rows_schema`` (the rows table's schema).

  ``tables``: rows go to a BigQuery table (False: lake files, where only the dead-letter
  options may apply); ``dead_letter_table``: dead letters go to a BigQuery table.
  ``aggregate_keys``: the aggregate table's key columns (clustering). Raises ConfigError
  naming the option.
  """
  opts = options.view_as(TableLayoutOptions)
  given = layout_options_given(options)
  dead_only = {'dead_letter_retention_days'}
  if not tables and set(given) - dead_only:
    raise ConfigError(f'--{sorted(set(given) - dead_only)[0]} is for BigQuery tables; rows '
                      'go to files (--output_path)')
  retention = _days(opts.dead_letter_retention_days, 'dead_letter_retention_days')
  if retention is not None and not dead_letter_table:
    raise ConfigError('--dead_letter_retention_days is for a BigQuery dead-letter table '
                      '(--dead_letter_sink bigquery)')
  expiration = _days(opts.partition_expiration_days, 'partition_expiration_days')
  rows = convert_by_argument(
      _LAYOUT_OPTIONS, 'partition_field', TableLayout,
      partition_field=(opts.partition_field or '').strip() or None,
      partition_granularity=opts.partition_granularity or 'DAY',
      clustering_fields=parse_fields(opts.clustering_fields),
      partition_expiration_days=expiration)
  rows = convert_by_argument(_LAYOUT_OPTIONS, 'partition_field', rows.for_schema, rows_schema)
  dead = None
  if dead_letter_table and (rows.partitioned or retention is not None):
    dead = dead_letter_layout(retention if retention is not None else expiration)
  side = {}
  if rows.partitioned:
    granularity = rows.partition_granularity
    side['aggregates'] = TableLayout('window_start', granularity,
                                     tuple(aggregate_keys)[:MAX_CLUSTERING_FIELDS], expiration)
    side['quality'] = TableLayout('window_start', granularity, (), expiration)
  return TableLayouts(rows=None if rows.is_default else rows, dead_letters=dead, **side)

