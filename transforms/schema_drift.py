"""Schema drift: input fields the table schema lacks, dead-lettered or added to the table.

Modes (``SchemaDriftConfig.mode``, ``--schema_drift``):

- ``ignore``: new fields are dropped (what ``--unknown_fields ignore`` always did);
- ``dead_letter``: a record with new fields becomes one dead letter, stage ``validate``,
  errorType ``schema_drift``, the message naming every new field and its inferred type
  (``--unknown_fields dead_letter`` keeps its per-field ``unknown_field:<path>`` codes);
- ``evolve``: a record whose new fields are all top-level columns gets those columns added
  to the BigQuery table as NULLABLE (REPEATED for arrays) with a type inferred from the JSON
  values, then it is re-validated against the evolved schema and written like any row.

Evolution is done by ``HandleSchemaDrift`` on ParseAndValidate's ``schema_drift`` dead
letters (their payload is decoded again), so only drifting records pay for it. Columns are
added with ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` (one column per statement; safe when
several workers race) and, when the table metadata does not show them afterwards (the
bqemulator), with a ``tables.update`` of the schema. The table is created first when it does
not exist yet. Not evolved (the record stays a ``schema_drift`` dead letter, saying why):
new fields inside existing RECORD columns, values whose type cannot be inferred (arrays of
arrays, empty objects), and any failure of the table update.

Type inference: bool -> BOOL, integer -> INT64, other number -> FLOAT64, string -> STRING
(no guessing of dates or timestamps from text), object -> RECORD (fields inferred the same
way), array -> REPEATED of its elements' type (integers and floats mixed -> FLOAT64; objects
merged). A new field that is null (or an empty array) everywhere in a record is not added
yet: it carries no value, nothing is lost, and it will be added by the first record that has
one.
"""

import logging
import threading
from dataclasses import dataclass, replace
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms import decoders
from transforms.errors import DEAD_LETTER_TAG, ROWS_TAG, FallibleResult, payload_bytes
from transforms.parse import ParseConfig
from transforms.schema import FieldSpec, TableSchema, load_schema
from transforms.sinks import parse_table_spec
from transforms.validate import RecordValidator, summarize

_LOG = logging.getLogger(__name__)
DRIFT_MODES = ('ignore', 'dead_letter', 'evolve')
DRIFT_ERROR_TYPE = 'schema_drift'


def drift_policy(policy, mode):
  """The ValidationPolicy ParseAndValidate needs for a drift mode."""
  if mode not in DRIFT_MODES:
    raise ValueError(f'schema_drift must be one of {DRIFT_MODES}, got {mode!r}')
  return replace(policy, unknown_fields='ignore' if mode == 'ignore' else 'schema_drift')


def _merge(a, b):
  """Two inferred FieldSpecs of one name -> one (None when they cannot agree)."""
  if a is None:
    return b
  if b is None:
    return a
  if a.type == b.type == 'RECORD':
    by_name = {f.name.lower(): f for f in a.fields}
    fields = list(a.fields)
    for f in b.fields:
      if f.name.lower() in by_name:
        merged = _merge(by_name[f.name.lower()], f)
        fields[fields.index(by_name[f.name.lower()])] = merged
      else:
        fields.append(f)
    return replace(a, fields=tuple(fields))
  if {a.type, b.type} == {'INT64', 'FLOAT64'}:
    return replace(a, type='FLOAT64')
  return a  # first seen wins; validation reports values that do not fit


class NotInferable(ValueError):
  """A value whose BigQuery type cannot be inferred."""


def infer_field(name, value, mode='NULLABLE'):
  """A NULLABLE (or REPEATED) FieldSpec for a JSON value; None for null / empty arrays.

  Raises:
    NotInferable: arrays of arrays, empty objects.
  """
  if value is None:
    return None
  if isinstance(value, bool):
    return FieldSpec(name=name, type='BOOL', mode=mode)
  if isinstance(value, int):
    return FieldSpec(name=name, type='INT64', mode=mode)
  if isinstance(value, float):
    return FieldSpec(name=name, type='FLOAT64', mode=mode)
  if isinstance(value, str):
    return FieldSpec(name=name, type='STRING', mode=mode)
  if isinstance(value, dict):
    fields = []
    for key, item in value.items():
      spec = infer_field(key, item)
      if spec is not None:
        fields.append(spec)
    if not fields:
      raise NotInferable(f'{name}: an object without typed values')
    return FieldSpec(name=name, type='RECORD', mode=mode, fields=tuple(fields))
  if isinstance(value, (list, tuple)):
    if mode == 'REPEATED':
      raise NotInferable(f'{name}: arrays of arrays cannot be a BigQuery column')
    spec = None
    for item in value:
      spec = _merge(spec, infer_field(name, item, mode='REPEATED'))
    return spec
  raise NotInferable(f'{name}: a value of type {type(value).__name__}')


def describe_field(spec):
  if spec.type == 'RECORD':
    inner = ', '.join(describe_field(f) for f in spec.fields)
    text = f'{spec.name} RECORD<{inner}>'
  else:
    text = f'{spec.name} {spec.type}'
  return text + (' REPEATED' if spec.mode == 'REPEATED' else '')


def _sql_type(spec):
  if spec.type == 'RECORD':
    inner = ', '.join(f'`{f.name}` {_sql_type(f)}' for f in spec.fields)
    base = f'STRUCT<{inner}>'
  else:
    base = spec.type
  return f'ARRAY<{base}>' if spec.mode == 'REPEATED' else base


def new_fields(obj, schema, prefix=''):
  """(top-level new field names, nested new field paths) of a decoded record."""
  top, nested = [], []
  by_lower = {f.name.lower(): f for f in schema.fields}
  for key, value in obj.items():
    spec = by_lower.get(key.lower())
    if spec is None:
      (top if not prefix else nested).append(prefix + key)
      continue
    if spec.type == 'RECORD' and value is not None:
      items = value if isinstance(value, list) else [value]
      for item in items:
        if isinstance(item, dict):
          sub_top, sub_nested = new_fields(item, TableSchema(fields=spec.fields),
                                           prefix + key + '.')
          nested.extend(p for p in sub_top + sub_nested if p not in nested)
  return top, nested


@dataclass(frozen=True)
class SchemaDriftConfig:
  """Schema-drift handling, validated.

  Attributes:
    mode: ``ignore``, ``dead_letter`` or ``evolve`` (module docstring).
    table: the output table (``evolve``): ``PROJECT:DATASET.TABLE`` or ``DATASET.TABLE``.
    project: the project of a ``DATASET.TABLE`` spec.
  """
  mode: str = 'ignore'
  table: Optional[str] = None
  project: Optional[str] = None

  def __post_init__(self):
    if self.mode not in DRIFT_MODES:
      raise ValueError(f'schema_drift must be one of {DRIFT_MODES}, got {self.mode!r}')
    if self.mode == 'evolve':
      if not self.table:
        raise ValueError('schema_drift evolve needs the output table')
      parse_table_spec(self.table, 'output_table')


def _bigquery_client(project):
  from transforms.bigquery_endpoint import anonymous_bigquery_client, emulator_host
  if emulator_host():
    return anonymous_bigquery_client(project)
  from google.cloud import bigquery
  return bigquery.Client(project=project)


class TableEvolver:
  """Adds NULLABLE/REPEATED top-level columns to a table (thread-safe, idempotent)."""

  def __init__(self, table, project, base_schema):
    table_project, dataset, name = parse_table_spec(table, 'output_table')
    self._project = table_project or project
    self._table_id = f'{dataset}.{name}' if not self._project else (
        f'{self._project}.{dataset}.{name}')
    self._base = base_schema
    self._client = None
    self._lock = threading.Lock()

  @property
  def table_id(self):
    return self._table_id

  def _get_client(self):
    if self._client is None:
      self._client = _bigquery_client(self._project)
    return self._client

  def table_schema(self):
    """The table's current schema as a TableSchema, creating the table if missing."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery
    client = self._get_client()
    try:
      table = client.get_table(self._table_id)
    except NotFound:
      table = bigquery.Table(self._table_id, schema=[
          bigquery.SchemaField.from_api_repr(f) for f in self._base.to_json()['fields']])
      table = client.create_table(table, exists_ok=True)
    return load_schema([f.to_api_repr() for f in table.schema])

  def add_columns(self, specs):
    """Adds the columns the table lacks; returns (the table's schema, names added)."""
    from google.cloud import bigquery
    with self._lock:
      current = self.table_schema()
      have = {f.name.lower() for f in current.fields}
      missing = [s for s in specs if s.name.lower() not in have]
      if not missing:
        return current, []
      client = self._get_client()
      for spec in missing:
        client.query(f'ALTER TABLE `{self._table_id}` ADD COLUMN IF NOT EXISTS '
                     f'`{spec.name}` {_sql_type(spec)}').result()
      table = client.get_table(self._table_id)
      shown = {f.name.lower() for f in table.schema}
      if any(s.name.lower() not in shown for s in missing):
        # DDL altered the data but not the metadata (bqemulator): update the metadata too.
        table.schema = list(table.schema) + [
            bigquery.SchemaField.from_api_repr(s.to_json()) for s in missing
            if s.name.lower() not in shown]
        table = client.update_table(table, ['schema'])
      return load_schema([f.to_api_repr() for f in table.schema]), [s.name for s in missing]


def _attributes(dead_letter):
  return {a['key']: a['value'] for a in dead_letter.get('attributes') or []}


class _EvolveFn(beam.DoFn):
  """schema_drift dead letters -> evolved rows (table updated first) or dead letters."""

  def __init__(self, schema, parse, config, pipeline_name):
    self._schema = schema
    self._parse = parse
    self._config = config
    self._pipeline_name = pipeline_name

  def setup(self):
    from transforms.bigquery_endpoint import apply_emulator_endpoint
    apply_emulator_endpoint()
    self._decode = decoders.make_decoder(self._parse, self._schema)
    self._evolver = TableEvolver(self._config.table, self._config.project, self._schema)
    self._validators = {}
    self._evolved = Metrics.counter('drift', 'evolved_rows')
    self._columns = Metrics.counter('drift', 'columns_added')
    self._kept = Metrics.counter('drift', 'not_evolved')

  def _validator(self, schema):
    key = tuple(f.name for f in schema.fields)
    if key not in self._validators:
      self._validators[key] = RecordValidator(schema, self._parse.policy)
    return self._validators[key]

  def process(self, dead_letter):
    if dead_letter.get('errorType') != DRIFT_ERROR_TYPE:
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, dead_letter)
      return
    try:
      obj = self._decode(payload_bytes(dead_letter), _attributes(dead_letter))
    except decoders.DecodeError as e:  # a truncated payload, say
      yield self._keep(dead_letter, f'cannot decode the payload again: {e.detail}')
      return
    top, nested = new_fields(obj, self._schema)
    if nested:
      yield self._keep(dead_letter, 'new fields inside existing RECORD columns are not added '
                       f'automatically: {", ".join(nested)}')
      return
    specs = []
    try:
      for name in top:
        spec = infer_field(name, obj[name])
        if spec is not None:
          specs.append(spec)
        else:  # null or [] everywhere: no value to keep, no type to add yet
          obj = {k: v for k, v in obj.items() if k != name}
    except NotInferable as e:
      yield self._keep(dead_letter, f'cannot infer a column type: {e}')
      return
    try:
      table_schema, added = self._evolver.add_columns(specs)
    except Exception as e:  # pylint: disable=broad-except
      _LOG.warning('schema evolution of %s failed: %s', self._evolver.table_id, e)
      yield self._keep(dead_letter, f'adding columns to {self._evolver.table_id} failed: '
                       f'{type(e).__name__}: {e}')
      return
    if added:
      self._columns.inc(len(added))
      _LOG.warning('schema drift: added column(s) %s to %s', ', '.join(added),
                   self._evolver.table_id)
    have = {f.name.lower() for f in self._schema.fields}
    evolved = TableSchema(fields=self._schema.fields + tuple(
        f for f in table_schema.fields if f.name.lower() not in have))
    row, problems = self._validator(evolved).validate(obj)
    if problems:
      error_type, reason = summarize(problems)
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, dict(
          dead_letter, errorType=error_type,
          errorMessage=f'after adding columns to {self._evolver.table_id}: {reason}'))
      return
    self._evolved.inc()
    yield row

  def _keep(self, dead_letter, why):
    self._kept.inc()
    return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, dict(
        dead_letter, errorMessage=f'{dead_letter.get("errorMessage")} (not evolved: {why})'))


class _DescribeDriftFn(beam.DoFn):
  """dead_letter mode: adds the inferred types of the new fields to the message."""

  def __init__(self, schema, parse):
    self._schema = schema
    self._parse = parse

  def setup(self):
    self._decode = decoders.make_decoder(self._parse, self._schema)
    self._counter = Metrics.counter('drift', 'dead_letters')

  def process(self, dead_letter):
    if dead_letter.get('errorType') != DRIFT_ERROR_TYPE:
      yield dead_letter
      return
    self._counter.inc()
    try:
      obj = self._decode(payload_bytes(dead_letter), _attributes(dead_letter))
      top, nested = new_fields(obj, self._schema)
      described = []
      for name in top:
        try:
          spec = infer_field(name, obj[name])
          described.append(describe_field(spec) if spec else f'{name} (null)')
        except NotInferable:
          described.append(f'{name} (no BigQuery type)')
      described += nested
      yield dict(dead_letter, errorMessage='schema drift: fields not in the table schema: '
                 + ', '.join(described))
    except Exception:  # pylint: disable=broad-except
      yield dead_letter  # the validator's message already names the fields


class HandleSchemaDrift(beam.PTransform):
  """Routes ParseAndValidate's ``schema_drift`` dead letters per ``SchemaDriftConfig``.

  Input: ParseAndValidate's dead letters (run it with ``drift_policy(...)``). Output: a
  ``FallibleResult``: ``rows`` = rows written after evolving the table (``evolve``; empty
  otherwise), ``dead_letters`` = every other dead letter unchanged plus the drift ones that
  stay dead letters (``dead_letter`` mode: with a message naming each new field and its
  inferred type). Counters ``drift/evolved_rows``, ``drift/columns_added``,
  ``drift/not_evolved``, ``drift/dead_letters``.

  Example::

      parsed = messages | ParseAndValidate(schema, ParseConfig(policy=drift_policy(p, 'evolve')))
      drift = parsed.dead_letters | HandleSchemaDrift(SchemaDriftConfig('evolve', 'p:d.t'),
                                                      schema, parse_config)
      rows = (parsed.rows, drift.rows) | beam.Flatten()
  """

  def __init__(self, config, schema, parse=None, pipeline_name=None, label=None):
    super().__init__(label)
    if not isinstance(config, SchemaDriftConfig):
      raise ValueError(f'config must be a SchemaDriftConfig, got {type(config).__name__}')
    self._config = config
    self._schema = load_schema(schema)
    self._parse = parse or ParseConfig()
    self._pipeline_name = pipeline_name

  def expand(self, dead_letters):
    if self._config.mode == 'evolve':
      out = dead_letters | 'Evolve' >> beam.ParDo(_EvolveFn(
          self._schema, self._parse, self._config, self._pipeline_name)).with_outputs(
              DEAD_LETTER_TAG, main=ROWS_TAG)
      return FallibleResult(rows=out[ROWS_TAG], dead_letters=out[DEAD_LETTER_TAG])
    empty = dead_letters.pipeline | 'NoEvolvedRows' >> beam.Create([])
    if self._config.mode == 'dead_letter':
      dead_letters = dead_letters | 'DescribeDrift' >> beam.ParDo(
          _DescribeDriftFn(self._schema, self._parse))
    return FallibleResult(rows=empty, dead_letters=dead_letters)


__all__ = ['DRIFT_MODES', 'HandleSchemaDrift', 'SchemaDriftConfig', 'TableEvolver',
           'describe_field', 'drift_policy', 'infer_field', 'new_fields']
