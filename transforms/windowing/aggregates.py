"""Per key and window aggregates: count, sum, min, max and exact distinct count.

Aggregate rows have one STRING column per key field (dots become underscores), then
``window_start`` / ``window_end`` (TIMESTAMP), ``pane_timing`` (EARLY, ON_TIME, LATE or
UNKNOWN), ``pane_index`` (0, 1, ... per key and window), ``count`` and, per configured
field ``f``: ``sum_f``, ``min_f``, ``max_f``, ``distinct_f`` (dots in ``f`` become
underscores). NULLs are ignored, as in SQL. Sums are exact and independent of element order
(integers as int, FLOAT64 as exact fractions rounded once, NUMERIC as decimals), so a batch
and a streaming run over the same events give identical aggregates.
"""

import decimal
import fractions
import json
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import PaneInfoTiming

from beam_pipelines.transforms.core.dead_letter import format_timestamp
from beam_pipelines.transforms.core.schema import load_schema

_NUMERIC = ('INT64', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC')
_ORDERED = _NUMERIC + ('STRING', 'TIMESTAMP', 'DATE', 'TIME', 'DATETIME', 'BOOL', 'BYTES')
_TIMINGS = {PaneInfoTiming.EARLY: 'EARLY', PaneInfoTiming.ON_TIME: 'ON_TIME',
            PaneInfoTiming.LATE: 'LATE', PaneInfoTiming.UNKNOWN: 'UNKNOWN'}
_DECIMAL = decimal.Context(prec=120)


def column_name(path):
  return path.replace('.', '_')


@dataclass(frozen=True)
class AggregateConfig:
  """What to aggregate per key and window.

  Attributes:
    key_fields: dotted paths whose values form the key (empty: one key for everything).
    sum_fields / min_fields / max_fields / distinct_fields: dotted paths of non-repeated
      fields. Sums need a numeric type; min/max any orderable type.
  """
  key_fields: tuple[str, ...] = ()
  sum_fields: tuple[str, ...] = ()
  min_fields: tuple[str, ...] = ()
  max_fields: tuple[str, ...] = ()
  distinct_fields: tuple[str, ...] = ()

  def __post_init__(self):
    for name in ('key_fields', 'sum_fields', 'min_fields', 'max_fields', 'distinct_fields'):
      value = getattr(self, name)
      if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f'{name} must be a tuple of field paths, got {value!r}')
      object.__setattr__(self, name, tuple(value))
    columns = [column_name(k) for k in self.key_fields] + self._value_columns()
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
      raise ValueError(f'aggregate columns collide: {duplicates}')

  def _value_columns(self):
    return ([f'sum_{column_name(f)}' for f in self.sum_fields]
            + [f'min_{column_name(f)}' for f in self.min_fields]
            + [f'max_{column_name(f)}' for f in self.max_fields]
            + [f'distinct_{column_name(f)}' for f in self.distinct_fields])

  def check_against(self, schema):
    """Raises ValueError naming the first field that is missing or has the wrong type."""
    def spec_of(path, argument):
      spec = schema.find(path)
      if spec is None:
        raise ValueError(f'{argument}: {path!r} is not a field of the schema')
      if spec.repeated or spec.type == 'RECORD':
        raise ValueError(f'{argument}: {path!r} must be a non-repeated scalar field')
      return spec
    for path in self.key_fields:
      spec_of(path, 'key_fields')
    for path in self.sum_fields:
      if spec_of(path, 'sum_fields').type not in _NUMERIC:
        raise ValueError(f'sum_fields: {path!r} is not numeric')
    for argument, paths in (('min_fields', self.min_fields), ('max_fields', self.max_fields)):
      for path in paths:
        if spec_of(path, argument).type not in _ORDERED:
          raise ValueError(f'{argument}: {path!r} has no order')
    for path in self.distinct_fields:
      spec_of(path, 'distinct_fields')

  def table_schema(self, schema):
    """The aggregate table's schema (a ``TableSchema``) for rows of ``schema`` (a path, the
    JSON or a ``TableSchema``). Also ``aggregate_schema(schema, config)``."""
    schema = load_schema(schema)
    self.check_against(schema)
    fields = [{'name': column_name(k), 'type': 'STRING', 'mode': 'NULLABLE'}
              for k in self.key_fields]
    fields += [
        {'name': 'window_start', 'type': 'TIMESTAMP', 'mode': 'REQUIRED'},
        {'name': 'window_end', 'type': 'TIMESTAMP', 'mode': 'REQUIRED'},
        {'name': 'pane_timing', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'pane_index', 'type': 'INTEGER', 'mode': 'REQUIRED'},
        {'name': 'count', 'type': 'INTEGER', 'mode': 'REQUIRED'},
    ]
    for path in self.sum_fields:
      ftype = schema.find(path).type
      fields.append({'name': f'sum_{column_name(path)}', 'type': ftype, 'mode': 'NULLABLE'})
    for prefix, paths in (('min', self.min_fields), ('max', self.max_fields)):
      for path in paths:
        fields.append({'name': f'{prefix}_{column_name(path)}', 'type': schema.find(path).type,
                       'mode': 'NULLABLE'})
    for path in self.distinct_fields:
      fields.append({'name': f'distinct_{column_name(path)}', 'type': 'INTEGER',
                     'mode': 'REQUIRED'})
    return load_schema({'fields': fields})


def aggregate_schema(schema, aggregate_config):
  """The schema of ``WindowAndAggregate``'s rows: ``aggregate_config.table_schema(schema)``."""
  return aggregate_config.table_schema(schema)


def get_path(row, path):
  """The value at a dotted path (names matched case-insensitively), or None."""
  return _walk(row, path.split('.'))


def _walk(value, parts):
  for part in parts:
    if not isinstance(value, dict):
      return None
    if part in value:  # the usual case: a validated row spells names as the schema does
      value = value[part]
      continue
    lower = part.lower()
    match = next((k for k in value if k.lower() == lower), None)
    if match is None:
      return None
    value = value[match]
  return value


def path_getter(path):
  """``get_path`` for one path, split once: row -> value or None."""
  parts = path.split('.')
  if len(parts) == 1:
    (name,) = parts

    def top_level(row):
      if isinstance(row, dict) and name in row:
        return row[name]
      return _walk(row, parts)
    return top_level
  return lambda row: _walk(row, parts)


def key_text(value):
  return None if value is None else value if isinstance(value, str) else json.dumps(
      value, sort_keys=True)


def key_of(row, key_fields):
  """The key of a row: a tuple of the key fields' values as text (None for NULL)."""
  return tuple(key_text(get_path(row, path)) for path in key_fields)


def key_getter(key_fields):
  """``key_of`` for fixed key fields: row -> key tuple."""
  getters = [path_getter(path) for path in key_fields]
  if len(getters) == 1:
    (getter,) = getters
    return lambda row: (key_text(getter(row)),)
  return lambda row: tuple(key_text(g(row)) for g in getters)


def _number(value, ftype):
  if ftype == 'INT64':
    return int(value)
  if ftype == 'FLOAT64':
    if isinstance(value, str):  # NaN/Infinity as BigQuery text
      return float(value.replace('Infinity', 'inf'))
    return float(value)
  return decimal.Decimal(str(value))


def _less(a, b):
  return a < b


def _greater(a, b):
  return a > b


class AggregateFn(beam.CombineFn):
  """Accumulator: [count, {sum}, {min}, {max}, {distinct set}]; exact and order-free."""

  def __init__(self, config, schema):
    self._config = config
    self._types = {path: schema.find(path).type for path in
                   config.sum_fields + config.min_fields + config.max_fields}
    # Built once: add_input runs per row.
    self._extremes = ((2, config.min_fields, _less), (3, config.max_fields, _greater))

  def create_accumulator(self):
    return [0, {}, {}, {}, {f: set() for f in self._config.distinct_fields}]

  def _sum_value(self, path, value):
    ftype = self._types[path]
    number = _number(value, ftype)
    if ftype == 'FLOAT64':
      return fractions.Fraction(number) if number == number and abs(number) != float('inf') \
          else number
    return number

  def add_input(self, acc, row):
    acc[0] += 1
    for path in self._config.sum_fields:
      value = get_path(row, path)
      if value is not None:
        number = self._sum_value(path, value)
        acc[1][path] = number if path not in acc[1] else acc[1][path] + number
    for index, paths, better in self._extremes:
      for path in paths:
        value = get_path(row, path)
        if value is None:
          continue
        ftype = self._types[path]
        comparable = _number(value, ftype) if ftype in _NUMERIC else value
        best = acc[index].get(path)
        if best is None or better(comparable, best[0]):
          acc[index][path] = (comparable, value)
    for path in self._config.distinct_fields:
      value = get_path(row, path)
      if value is not None:
        acc[4][path].add(json.dumps(value, sort_keys=True))
    return acc

  def merge_accumulators(self, accumulators):
    out = self.create_accumulator()
    for acc in accumulators:
      out[0] += acc[0]
      for path, number in acc[1].items():
        out[1][path] = number if path not in out[1] else out[1][path] + number
      for index, better in ((2, _less), (3, _greater)):
        for path, best in acc[index].items():
          mine = out[index].get(path)
          if mine is None or better(best[0], mine[0]):
            out[index][path] = best
      for path, values in acc[4].items():
        out[4].setdefault(path, set()).update(values)
    return out

  def extract_output(self, acc):
    result = {'count': acc[0]}
    for path in self._config.sum_fields:
      ftype = self._types[path]
      total = acc[1].get(path)
      if total is None:
        value = None
      elif ftype == 'INT64':
        value = int(total)
      elif ftype == 'FLOAT64':
        value = float(total)
      else:
        value = format(total.normalize(_DECIMAL), 'f') if total != 0 else '0'
      result[f'sum_{column_name(path)}'] = value
    for prefix, index, paths in (('min', 2, self._config.min_fields),
                                 ('max', 3, self._config.max_fields)):
      for path in paths:
        best = acc[index].get(path)
        result[f'{prefix}_{column_name(path)}'] = None if best is None else best[1]
    for path in self._config.distinct_fields:
      result[f'distinct_{column_name(path)}'] = len(acc[4].get(path, ()))
    return result


class FormatAggregates(beam.DoFn):
  """(key, aggregates) in a window and pane -> one aggregate row."""

  def __init__(self, config):
    self._config = config
    self._panes = Metrics.counter('window', 'panes_emitted')

  def process(self, element, window=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam):
    key, values = element
    self._panes.inc()
    row = {column_name(path): value for path, value in zip(self._config.key_fields, key, strict=True)}
    row['window_start'] = format_timestamp(window.start.micros / 1e6)
    row['window_end'] = format_timestamp(window.end.micros / 1e6)
    row['pane_timing'] = _TIMINGS.get(pane.timing, 'UNKNOWN')
    row['pane_index'] = pane.index
    row.update(values)
    yield row
