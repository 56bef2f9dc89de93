"""Table layout and retention: time partitioning, clustering and partition expiration of a
BigQuery table the suite creates.

``TableLayout`` is applied when a table is created (``beam_pipelines.transforms.write.create_table``):
an existing table keeps its layout (a warning says when it differs). A layout partitions by
a column (``partition_field``: a top-level DATE, TIMESTAMP or DATETIME column) or by
ingestion time (``partition_field=INGESTION_TIME``, BigQuery's ``_PARTITIONTIME``), at a
granularity (HOUR, DAY, MONTH or YEAR; a DATE column has no hours), clusters by up to four
top-level columns, and lets partitions expire ``partition_expiration_days`` after their
partition's end (retention). ``partition_key_sql`` is the SQL that names a row's partition,
which ``--load_mode replace`` uses to replace only the partitions a run touches.

Example::

    layout = TableLayout('event_time', 'DAY', ('event_type',), partition_expiration_days=90)
    layout = layout.for_schema(schema)     # checks the columns (ValueError naming them)
"""

from dataclasses import dataclass, replace
from typing import Optional, Tuple

INGESTION_TIME = '_PARTITIONTIME'
GRANULARITIES = ('HOUR', 'DAY', 'MONTH', 'YEAR')
PARTITION_TYPES = ('DATE', 'TIMESTAMP', 'DATETIME')
# BigQuery clusters by top-level, non-repeated columns of these types.
CLUSTERING_TYPES = ('STRING', 'INT64', 'NUMERIC', 'BIGNUMERIC', 'BOOL', 'DATE', 'DATETIME',
                    'TIMESTAMP', 'GEOGRAPHY', 'RANGE')
MAX_CLUSTERING_FIELDS = 4
_MS_PER_DAY = 86400 * 1000


@dataclass(frozen=True)
class TableLayout:
  """How a table is partitioned, clustered and expired (all optional).

  Attributes:
    partition_field: a top-level DATE/TIMESTAMP/DATETIME column, ``INGESTION_TIME``
      (``_PARTITIONTIME``: ingestion-time partitions), or None (not partitioned).
    partition_granularity: HOUR, DAY, MONTH or YEAR (a DATE column: DAY, MONTH, YEAR).
    clustering_fields: up to four top-level columns, in order.
    partition_expiration_days: partitions are deleted this long after their end (needs a
      partition_field); None keeps them.
    partition_field_type: the partition column's type, set by ``for_schema`` (the SQL of
      ``partition_key_sql`` depends on it); None: TIMESTAMP.
  """
  partition_field: Optional[str] = None
  partition_granularity: str = 'DAY'
  clustering_fields: Tuple[str, ...] = ()
  partition_expiration_days: Optional[float] = None
  partition_field_type: Optional[str] = None

  def __post_init__(self):
    granularity = str(self.partition_granularity or '').upper()
    if granularity not in GRANULARITIES:
      raise ValueError(f'partition_granularity must be one of {"|".join(GRANULARITIES)}, '
                       f'got {self.partition_granularity!r}')
    object.__setattr__(self, 'partition_granularity', granularity)
    if self.partition_field is not None and not str(self.partition_field).strip():
      raise ValueError('partition_field must be a column name, INGESTION_TIME or None')
    if self.partition_field_type not in (None,) + PARTITION_TYPES:
      raise ValueError(f'partition_field_type must be one of {PARTITION_TYPES}, '
                       f'got {self.partition_field_type!r}')
    fields = tuple(self.clustering_fields or ())
    if len(fields) > MAX_CLUSTERING_FIELDS:
      raise ValueError(f'clustering_fields: BigQuery clusters by at most '
                       f'{MAX_CLUSTERING_FIELDS} columns, got {len(fields)}')
    if len({f.lower() for f in fields}) != len(fields):
      raise ValueError(f'clustering_fields: a column is named twice in {list(fields)}')
    object.__setattr__(self, 'clustering_fields', fields)
    days = self.partition_expiration_days
    if days is not None:
      if isinstance(days, bool) or not isinstance(days, (int, float)) or not days > 0 or \
          days == float('inf'):
        raise ValueError(f'partition_expiration_days must be a positive number of days, '
                         f'got {days!r}')
      if self.partition_field is None:
        raise ValueError('partition_expiration_days needs a partition_field: only '
                         'partitions expire')

  @property
  def partitioned(self):
    return self.partition_field is not None

  @property
  def ingestion_time(self):
    return self.partition_field == INGESTION_TIME

  @property
  def is_default(self):
    """No partitioning, no clustering: the table as BigQuery makes it by default."""
    return not self.partitioned and not self.clustering_fields

  def for_schema(self, schema):
    """This layout checked against ``schema`` (a ``TableSchema``), with the columns spelled
    as the schema spells them. ValueError naming the argument and the column otherwise."""
    partition_field = self.partition_field
    if self.partitioned and not self.ingestion_time:
      spec = _top_level(schema, partition_field, 'partition_field')
      if spec.type not in PARTITION_TYPES:
        raise ValueError(f'partition_field {spec.name!r} is {spec.type}; partitions need a '
                         f'{", ".join(PARTITION_TYPES)} column (or ingestion time)')
      if spec.type == 'DATE' and self.partition_granularity == 'HOUR':
        raise ValueError(f'partition_granularity HOUR needs a TIMESTAMP or DATETIME column; '
                         f'{spec.name!r} is a DATE')
      partition_field, field_type = spec.name, spec.type
    else:
      field_type = None
    clustering = []
    for name in self.clustering_fields:
      spec = _top_level(schema, name, 'clustering_fields')
      if spec.type not in CLUSTERING_TYPES:
        raise ValueError(f'clustering_fields: {spec.name!r} is {spec.type}; BigQuery clusters '
                         f'by {", ".join(CLUSTERING_TYPES)} columns')
      clustering.append(spec.name)
    return replace(self, partition_field=partition_field, clustering_fields=tuple(clustering),
                   partition_field_type=field_type)

  def to_api(self):
    """The layout in BigQuery's REST form: ``{'timePartitioning': ..., 'clustering': ...}``
    (empty when default), as tables.insert and Beam's ``additional_bq_parameters`` take it."""
    out = {}
    if self.partitioned:
      partitioning = {'type': self.partition_granularity}
      if not self.ingestion_time:
        partitioning['field'] = self.partition_field
      if self.partition_expiration_days is not None:
        partitioning['expirationMs'] = str(int(self.partition_expiration_days * _MS_PER_DAY))
      out['timePartitioning'] = partitioning
    if self.clustering_fields:
      out['clustering'] = {'fields': list(self.clustering_fields)}
    return out

  def apply_to(self, table):
    """Sets the layout on a google-cloud-bigquery ``Table`` about to be created."""
    from google.cloud import bigquery
    if self.partitioned:
      table.time_partitioning = bigquery.TimePartitioning(
          type_=self.partition_granularity,
          field=None if self.ingestion_time else self.partition_field,
          expiration_ms=(None if self.partition_expiration_days is None
                         else int(self.partition_expiration_days * _MS_PER_DAY)))
    if self.clustering_fields:
      table.clustering_fields = list(self.clustering_fields)
    return table

  def differences(self, table):
    """What an existing google-cloud-bigquery ``Table`` has otherwise than this layout, as
    short texts (empty: it matches)."""
    have = table.time_partitioning
    found = []
    if self.partitioned:
      want_field = None if self.ingestion_time else self.partition_field
      if have is None:
        found.append('not partitioned')
      elif (have.type_ or 'DAY') != self.partition_granularity or \
          (have.field or None) != want_field:
        found.append(f'partitioned by {have.field or INGESTION_TIME} {have.type_}')
    elif have is not None:
      found.append(f'partitioned by {have.field or INGESTION_TIME} {have.type_}')
    if list(table.clustering_fields or []) != list(self.clustering_fields):
      found.append(f'clustered by {table.clustering_fields or "nothing"}')
    return found

  def partition_key_sql(self, alias=None):
    """SQL naming a row's partition (``TIMESTAMP_TRUNC(t.event_time, DAY)``...), for the
    replace of the partitions a run touches. Ingestion time: the partition of now."""
    if not self.partitioned:
      raise ValueError('partition_key_sql: the layout is not partitioned')
    granularity = self.partition_granularity
    if self.ingestion_time:
      return f'TIMESTAMP_TRUNC({_column(INGESTION_TIME, alias)}, {granularity})'
    trunc = _TRUNC[self.partition_field_type or 'TIMESTAMP']
    return f'{trunc}({_column(self.partition_field, alias)}, {granularity})'


_TRUNC = {'TIMESTAMP': 'TIMESTAMP_TRUNC', 'DATE': 'DATE_TRUNC', 'DATETIME': 'DATETIME_TRUNC'}


def _column(name, alias):
  quoted = f'`{name}`' if name != INGESTION_TIME else name
  return f'{alias}.{quoted}' if alias else quoted


def _top_level(schema, name, argument):
  wanted = str(name).lower()
  for spec in schema.fields:
    if spec.name.lower() == wanted:
      if spec.repeated:
        raise ValueError(f'{argument}: {spec.name!r} is REPEATED; a top-level single column '
                         'is needed')
      return spec
  if '.' in str(name):
    raise ValueError(f'{argument}: {name!r} is a nested field; BigQuery partitions and '
                     'clusters by top-level columns only')
  raise ValueError(f'{argument}: the table has no column {name!r}')
