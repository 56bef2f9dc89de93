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
letters (their payload is decoded again), so only drifting records pay for it; the table is
changed by ``beam_pipelines.transforms.validate.table_evolution``. Not evolved (the record stays a
``schema_drift`` dead letter, saying why): new fields inside existing RECORD columns, values
whose type cannot be inferred (arrays of arrays, empty objects), and any failure of the
table update. Types are inferred by ``beam_pipelines.transforms.validate.drift_inference``.
"""

import logging
from dataclasses import dataclass, replace
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.read.formats.base import DecodeError
from beam_pipelines.transforms.read.formats.registry import make_decoder
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG, FallibleResult,
                                                        payload_bytes, pipeline_name_of)
from beam_pipelines.transforms.core.elements import RowDict, with_source_id
from beam_pipelines.transforms.core.outputs import (fallible_result, remember_schema,
                                                    typed_dead_letters)
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.validate.drift_inference import (NotInferable, describe_field, infer_field,
                                                 new_fields)
from beam_pipelines.transforms.validate.parse import ParseConfig
from beam_pipelines.transforms.core.schema import TableSchema, load_schema, schema_first
from beam_pipelines.transforms.validate.table_evolution import TableEvolver
from beam_pipelines.transforms.validate.validator import RecordValidator, summarize

_LOG = logging.getLogger(__name__)
DRIFT_MODES = ('ignore', 'dead_letter', 'evolve')
DRIFT_ERROR_TYPE = 'schema_drift'


def drift_policy(policy, mode):
  """The ValidationPolicy ParseAndValidate needs for a drift mode."""
  if mode not in DRIFT_MODES:
    raise ValueError(f'schema_drift must be one of {DRIFT_MODES}, got {mode!r}')
  return replace(policy, unknown_fields='ignore' if mode == 'ignore' else 'schema_drift')


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


def _attributes(dead_letter):
  return {a['key']: a['value'] for a in dead_letter.get('attributes') or []}


class _EvolveFn(beam.DoFn):
  """schema_drift dead letters -> evolved rows (table updated first) or dead letters."""

  def __init__(self, schema, parse, config, pipeline_name, with_source_ids=False):
    self._schema = schema
    self._parse = parse
    self._config = config
    self._pipeline_name = pipeline_name
    self._with_source_ids = with_source_ids

  def setup(self):
    self._decode = make_decoder(self._parse, self._schema)
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
    except DecodeError as e:  # a truncated payload, say
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
    yield (with_source_id(row, dead_letter.get('sourceId')) if self._with_source_ids else row)

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
    self._decode = make_decoder(self._parse, self._schema)
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

  Args:
    schema: the table schema ParseAndValidate validated against (a path, the JSON or a
      ``TableSchema``).
    config: a ``SchemaDriftConfig`` (mode, the table to evolve).
    parse: the ``ParseConfig`` ParseAndValidate used (payload format), to decode payloads
      again.
    pipeline_name: recorded in each dead letter (default: the pipeline's options).
    with_source_ids: evolved rows carry their record's source id, as ParseAndValidate's
      rows do with the same option.

  Example::

      parse = ParseConfig(policy=drift_policy(ValidationPolicy(), 'evolve'))
      parsed = messages | ParseAndValidate(schema, parse)
      drift = parsed.dead_letters | HandleSchemaDrift(
          schema, SchemaDriftConfig('evolve', 'p:d.t'), parse)
      rows = (parsed.rows, drift.rows) | beam.Flatten()
  """

  def __init__(self, schema, config, parse=None, *, pipeline_name=None, with_source_ids=False,
               label=None):
    super().__init__(label)
    schema, config = schema_first('HandleSchemaDrift', schema, config, SchemaDriftConfig)
    if not isinstance(config, SchemaDriftConfig):
      raise ValueError(f'config must be a SchemaDriftConfig, got {type(config).__name__}')
    self._config = config
    self._schema = load_schema(schema)
    self._parse = parse or ParseConfig()
    self._pipeline_name = pipeline_name
    self._with_source_ids = bool(with_source_ids)

  def expand(self, dead_letters):
    name = pipeline_name_of(dead_letters.pipeline, self._pipeline_name)
    if self._config.mode == 'evolve':
      out = dead_letters | 'Evolve' >> beam.ParDo(_EvolveFn(
          self._schema, self._parse, self._config, name,
          self._with_source_ids)).with_output_types(
              RowDict).with_outputs(DEAD_LETTER_TAG, main=ROWS_TAG)
      # Evolved rows may carry columns the schema lacks: no schema is known for them.
      return fallible_result(out)
    empty = dead_letters.pipeline | 'NoEvolvedRows' >> beam.Create([]).with_output_types(
        RowDict)
    if self._config.mode == 'dead_letter':
      dead_letters = dead_letters | 'DescribeDrift' >> beam.ParDo(
          _DescribeDriftFn(self._schema, self._parse))
    return FallibleResult(rows=remember_schema(empty, self._schema),
                          dead_letters=typed_dead_letters(dead_letters))


__all__ = ['DRIFT_MODES', 'HandleSchemaDrift', 'SchemaDriftConfig', 'TableEvolver',
           'describe_field', 'drift_policy', 'infer_field', 'new_fields']
