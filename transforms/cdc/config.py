"""Typed configs of change data capture: how changes are read (``ChangeFormatConfig``) and how
they are applied to BigQuery (``MergeConfig``). Constructors validate and raise ValueError
naming the argument.
"""

import math
from dataclasses import dataclass, field
from typing import Optional, Tuple

from beam_pipelines.transforms.core.table_layout import TableLayout
from beam_pipelines.transforms.core.table_spec import parse_table_spec

CDC_FORMATS = ('debezium', 'datastream', 'generic')
APPLY_MODES = ('merge', 'storage_write_cdc')
# How Debezium values arrive without the {"schema", "payload"} envelope (docs/cdc.md).
TEMPORAL_MODES = ('reject', 'millis', 'micros', 'nanos')
DECIMAL_MODES = ('reject', 'precise', 'string', 'double')
DEFAULT_MERGE_INTERVAL_SECONDS = 60.0
DEFAULT_MAX_CHANGES_PER_MERGE = 50_000


def _names(value, name):
  if isinstance(value, str):
    value = tuple(v.strip() for v in value.split(',') if v.strip())
  value = tuple(value or ())
  if any(not isinstance(v, str) or not v for v in value):
    raise ValueError(f'{name} must be column names, got {value!r}')
  if len({v.lower() for v in value}) != len(value):
    raise ValueError(f'{name} names a column twice: {value!r}')
  return value


@dataclass(frozen=True)
class ValueModes:
  """A decoding mode per column: ``default`` and ``(column, mode)`` overrides.

  ``parse('micros,updated_at=millis', TEMPORAL_MODES, 'temporal_mode')`` is micros for
  every column but ``updated_at``.
  """
  default: str
  columns: Tuple[Tuple[str, str], ...] = ()
  choices: Tuple[str, ...] = TEMPORAL_MODES
  name: str = 'mode'

  def __post_init__(self):
    for mode in (self.default,) + tuple(m for _, m in self.columns):
      if mode not in self.choices:
        raise ValueError(f'{self.name} must be one of {"|".join(self.choices)} (or '
                         f'column=mode entries), got {mode!r}')

  @classmethod
  def parse(cls, text, choices, name, default='reject'):
    columns, mode = [], default
    for part in (p.strip() for p in (text or '').split(',')):
      if not part:
        continue
      if '=' in part:
        column, value = (s.strip() for s in part.split('=', 1))
        if not column:
          raise ValueError(f'{name}: {part!r} names no column')
        columns.append((column.lower(), value))
      else:
        mode = part
    return cls(default=mode, columns=tuple(columns), choices=tuple(choices), name=name)

  def mode_for(self, column):
    lowered = column.lower()
    return next((m for c, m in self.columns if c == lowered), self.default)


@dataclass(frozen=True)
class ChangeFormatConfig:
  """How change records are read.

  Attributes:
    format: ``debezium`` (the JSON envelope, with or without ``{"schema", "payload"}``),
      ``datastream`` (Datastream's JSON records, raw or with ``_metadata_*`` columns) or
      ``generic`` (a flat row with an operation field and sequence fields).
    primary_key: the replicated table's key columns (top-level columns of the schema).
    op_field / sequence_fields / source_time_field: ``generic`` only: the field naming the
      operation, the fields whose values order the changes (compared left to right), and a
      TIMESTAMP field giving the source time (``valid_from`` of the history).
    temporal_mode / decimal_mode: ``debezium`` without the schema envelope: how integer
      temporal values and decimal values are encoded (``ValueModes``).
    key_attribute: a message attribute holding the record key (Debezium Server's key); the
      Pub/Sub ordering key and a file record's ``key`` member are used as well.
    apply_truncate: ``op: t`` removes every row older than the truncate instead of becoming
      a ``cdc_truncate`` dead letter.
    require_source_time: a change without a source time is a dead letter
      (``cdc_missing_source_time``); set when a history table is written.
  """
  primary_key: Tuple[str, ...]
  format: str = 'debezium'
  op_field: Optional[str] = None
  sequence_fields: Tuple[str, ...] = ()
  source_time_field: Optional[str] = None
  temporal_mode: ValueModes = field(default_factory=lambda: ValueModes(
      'reject', choices=TEMPORAL_MODES, name='temporal_mode'))
  decimal_mode: ValueModes = field(default_factory=lambda: ValueModes(
      'reject', choices=DECIMAL_MODES, name='decimal_mode'))
  key_attribute: Optional[str] = None
  apply_truncate: bool = False
  require_source_time: bool = False

  def __post_init__(self):
    if self.format not in CDC_FORMATS:
      raise ValueError(f'format must be one of {"|".join(CDC_FORMATS)}, got {self.format!r}')
    object.__setattr__(self, 'primary_key', _names(self.primary_key, 'primary_key'))
    if not self.primary_key:
      raise ValueError('primary_key must name at least one column')
    object.__setattr__(self, 'sequence_fields',
                       _names(self.sequence_fields, 'sequence_fields'))
    if self.format == 'generic':
      if not self.op_field:
        raise ValueError('op_field is required for the generic format')
      if not self.sequence_fields:
        raise ValueError('sequence_fields is required for the generic format')
      if self.op_field.lower() in {s.lower() for s in self.sequence_fields}:
        raise ValueError('op_field cannot also be a sequence field')
    else:
      for name in ('op_field', 'source_time_field'):
        if getattr(self, name):
          raise ValueError(f'{name} is for the generic format only')
      if self.sequence_fields:
        raise ValueError('sequence_fields is for the generic format only')
    for name in ('temporal_mode', 'decimal_mode'):
      if not isinstance(getattr(self, name), ValueModes):
        raise ValueError(f'{name} must be a ValueModes')
    if self.key_attribute is not None and not self.key_attribute:
      raise ValueError('key_attribute must be a non-empty attribute name')


@dataclass(frozen=True)
class MergeConfig:
  """Where and how often accepted changes are applied (``--apply_mode merge``).

  Attributes:
    replica: the replica table ``[PROJECT:]DATASET.TABLE`` (current state).
    changelog: the change-log table (every accepted change once; the source of truth).
    history: the SCD type 2 table, or None.
    primary_key: the key columns.
    staging_location: a folder (local path or gs://) for the staging files load jobs read.
    interval_seconds: streaming: at most this long between a change's arrival and its merge.
    max_changes: at most this many changes in one merge (a batch run merges in chunks).
    apply_truncate: truncates in the change log act as a delete of every older row.
    retry_budget_seconds: 0 retries a failing merge without limit; else the merge fails for
      good once BigQuery has failed for this long with no success in between.
    project: the project of tables given without one (None: the client's default).
    replica_layout: partitioning and clustering of the replica when it is created (a
      ``TableLayout`` without expiration: a replica holds current rows); None: clustered by
      the primary key.
  """
  replica: str
  changelog: str
  primary_key: Tuple[str, ...]
  staging_location: str
  history: Optional[str] = None
  interval_seconds: float = DEFAULT_MERGE_INTERVAL_SECONDS
  max_changes: int = DEFAULT_MAX_CHANGES_PER_MERGE
  apply_truncate: bool = False
  retry_budget_seconds: float = 0
  project: Optional[str] = None
  replica_layout: Optional[TableLayout] = None

  def __post_init__(self):
    if self.replica_layout is not None:
      if not isinstance(self.replica_layout, TableLayout):
        raise ValueError('replica_layout must be a TableLayout, got '
                         f'{type(self.replica_layout).__name__}')
      if self.replica_layout.partition_expiration_days is not None:
        raise ValueError('replica_layout: a replica holds current rows; its partitions must '
                         'not expire')
    for name in ('replica', 'changelog') + (('history',) if self.history else ()):
      parse_table_spec(getattr(self, name), name)
    tables = [t for t in (self.replica, self.changelog, self.history) if t]
    if len({t.replace(':', '.') for t in tables}) != len(tables):
      raise ValueError(f'replica, changelog and history must be three different tables, got '
                       f'{tables}')
    object.__setattr__(self, 'primary_key', _names(self.primary_key, 'primary_key'))
    if not self.primary_key:
      raise ValueError('primary_key must name at least one column')
    if not self.staging_location:
      raise ValueError('staging_location is required (a folder for staging files)')
    if not (isinstance(self.interval_seconds, (int, float)) and
            math.isfinite(self.interval_seconds) and self.interval_seconds > 0):
      raise ValueError(f'interval_seconds must be a positive number, got '
                       f'{self.interval_seconds!r}')
    if isinstance(self.max_changes, bool) or not isinstance(self.max_changes, int) or \
        self.max_changes < 1:
      raise ValueError(f'max_changes must be a whole number >= 1, got {self.max_changes!r}')
    if not (isinstance(self.retry_budget_seconds, (int, float)) and
            self.retry_budget_seconds >= 0):
      raise ValueError(f'retry_budget_seconds must be 0 or positive, got '
                       f'{self.retry_budget_seconds!r}')
