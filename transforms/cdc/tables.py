"""The three tables of change data capture and their schemas, made from the row schema.

==============  ==================================================================
table           columns
==============  ==================================================================
replica         the row's columns; ``_cdc_op`` (c/r/u of the change it holds),
                ``_cdc_order`` (that change's order), ``_cdc_source_ts``
change log      the row's columns, all NULLABLE (a delete carries its before image,
                which may hold only the key); ``_cdc_key`` (JSON array of the key
                values; NULL for a truncate), ``_cdc_change_id`` (key + order: one row
                per distinct change), ``_cdc_op``, ``_cdc_order``, ``_cdc_source_ts``,
                ``_cdc_position`` (JSON: the readable order), ``_cdc_source`` (JSON:
                source metadata), ``_cdc_source_id`` (file:line or message id),
                ``_cdc_read_at``
history         the row's columns; ``valid_from``, ``valid_to`` (NULL while current),
                ``is_current``; ``_cdc_key``, ``_cdc_op``, ``_cdc_order`` of the version
==============  ==================================================================
"""

import dataclasses

from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema, load_schema

REPLICA_META = (
    FieldSpec('_cdc_op', 'STRING', 'REQUIRED', description='op of the change this row holds'),
    FieldSpec('_cdc_order', 'STRING', 'REQUIRED', description='order of that change'),
    FieldSpec('_cdc_source_ts', 'TIMESTAMP', description='source time of that change'),
)
CHANGELOG_META = (
    FieldSpec('_cdc_key', 'STRING', description='JSON array of the key values'),
    FieldSpec('_cdc_change_id', 'STRING', 'REQUIRED', description='hash of key and order'),
    FieldSpec('_cdc_op', 'STRING', 'REQUIRED', description='c, r, u, d or t'),
    FieldSpec('_cdc_order', 'STRING', 'REQUIRED', description='sortable order'),
    FieldSpec('_cdc_source_ts', 'TIMESTAMP', description='source time'),
    FieldSpec('_cdc_position', 'JSON', description='the order, readable'),
    FieldSpec('_cdc_source', 'JSON', description='source metadata'),
    FieldSpec('_cdc_source_id', 'STRING', description='file:line or message id'),
    FieldSpec('_cdc_read_at', 'TIMESTAMP', description='when the pipeline read it'),
)
HISTORY_META = (
    FieldSpec('valid_from', 'TIMESTAMP', 'REQUIRED', description='source time of the version'),
    FieldSpec('valid_to', 'TIMESTAMP', description='source time of the next change; NULL: '
              'current'),
    FieldSpec('is_current', 'BOOL', 'REQUIRED'),
    FieldSpec('_cdc_key', 'STRING', 'REQUIRED', description='JSON array of the key values'),
    FieldSpec('_cdc_op', 'STRING', 'REQUIRED', description='op of the version\'s change'),
    FieldSpec('_cdc_order', 'STRING', 'REQUIRED', description='order of that change'),
)
RESERVED = frozenset(f.name.lower() for f in REPLICA_META + CHANGELOG_META + HISTORY_META) | {
    '_cdc'}
_KEY_TYPES = ('STRING', 'INT64', 'NUMERIC', 'BIGNUMERIC', 'BYTES', 'BOOL', 'DATE', 'DATETIME',
              'TIME', 'TIMESTAMP')


def check_reserved(schema):
  """ValueError when the row schema has a column name the CDC tables reserve."""
  clash = sorted(f.name for f in load_schema(schema).fields if f.name.lower() in RESERVED)
  if clash:
    raise ValueError(f'the schema has column(s) {clash} that the CDC tables reserve; rename '
                     'them')


def check_row_schema(schema, primary_key):
  """The row schema and key, checked; returns the key in the schema's spelling.

  Raises ValueError: a column name the tables reserve, a key column that is missing, nested,
  REPEATED, or of a type that cannot be compared for equality (FLOAT64, JSON, GEOGRAPHY,
  RECORD).
  """
  schema = load_schema(schema)
  check_reserved(schema)
  spelled = []
  for name in primary_key:
    spec = next((f for f in schema.fields if f.name.lower() == name.lower()), None)
    if spec is None:
      raise ValueError(f'primary_key: {name!r} is not a top-level column of the schema')
    if spec.repeated or spec.type not in _KEY_TYPES:
      raise ValueError(f'primary_key: column {spec.name!r} is {spec.mode} {spec.type}; a key '
                       f'column must be a single {", ".join(_KEY_TYPES)} value')
    spelled.append(spec.name)
  return tuple(spelled)


def _relaxed(spec):
  mode = 'NULLABLE' if spec.mode == 'REQUIRED' else spec.mode
  return dataclasses.replace(spec, mode=mode, fields=tuple(_relaxed(f) for f in spec.fields))


def relaxed_schema(schema):
  """``schema`` with every REQUIRED column NULLABLE (a delete's image may be partial)."""
  return TableSchema(fields=tuple(_relaxed(f) for f in load_schema(schema).fields))


def replica_schema(row_schema):
  return TableSchema(fields=load_schema(row_schema).fields + REPLICA_META)


def changelog_schema(row_schema):
  return TableSchema(fields=relaxed_schema(row_schema).fields + CHANGELOG_META)


def history_schema(row_schema):
  return TableSchema(fields=load_schema(row_schema).fields + HISTORY_META)


def row_columns(row_schema):
  """The row's column names, in schema order."""
  return [f.name for f in load_schema(row_schema).fields]
