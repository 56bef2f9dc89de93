"""Record validation against a BigQuery schema, compiled once into nested closures.

``RecordValidator(schema, policy).validate(obj)`` returns ``(row, errors)``: the row in
BigQuery JSON form when ``errors`` is empty, otherwise a list of ``FieldProblem`` naming every
bad field (paths like ``user.address.zip`` and ``items[2].sku``). It never raises for bad
data; the only exceptions are programming errors.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

from beam_pipelines.transforms.validate import bq_types
from beam_pipelines.transforms.validate.field_error import type_name
from beam_pipelines.transforms.validate.field_error import FieldError
from beam_pipelines.transforms.core.schema import load_schema

UNKNOWN_FIELD_POLICIES = ('ignore', 'dead_letter', 'schema_drift')
NON_FINITE_POLICIES = ('reject', 'allow', 'null')
MAX_PROBLEMS_REPORTED = 20
# (RANGE is left out: its value is a dict, which a memo would share between rows.)
# Converters of these types are pure functions of (text, spec, policy) and their inputs
# repeat a lot in real data (dates, times, prices, places): each compiled field memoises
# the outcome (value or FieldError) per input string. Bounded: cleared when full; long
# strings are never memoised. Same result as calling the converter (issue 8, profile).
_MEMO_TYPES = frozenset(('DATE', 'TIME', 'DATETIME', 'TIMESTAMP', 'NUMERIC', 'BIGNUMERIC',
                         'GEOGRAPHY', 'BYTES', 'INTERVAL'))
_MEMO_ENTRIES = 4096
# Types whose single value may be a JSON object: JSON itself, RANGE ({"start", "end"}).
_OBJECT_TYPES = ('JSON', 'RANGE')
_MEMO_MAX_CHARS = 128


@dataclass(frozen=True)
class ValidationPolicy:
  """How strict validation is.

  Attributes:
    unknown_fields: ``ignore`` drops fields the schema lacks; ``dead_letter`` rejects the
      record (errorType ``unknown_field:<parent path>.<unknown#N>``: the N-th unknown key of
      that object, never the key itself, which the message quotes); ``schema_drift``
      rejects it with errorType
      ``schema_drift`` (one code for any number of new fields, reported only when the record
      has no other problem; see ``beam_pipelines.transforms.validate.schema_drift``).
    coerce_types: accept strings such as ``"42"`` / ``"true"`` / ``"1.5"`` for INT64, BOOL,
      FLOAT64 and numbers for STRING. Off by default: a producer sending the wrong type is a
      bug worth seeing.
    non_finite_floats: NaN/Infinity in FLOAT64: ``reject`` (dead letter), ``allow`` (stored
      as BigQuery's NaN/Infinity), ``null`` (stored as NULL in NULLABLE columns).
    text_input: values arrive as text (CSV): implies coercion, and an empty cell is NULL
      for every type but STRING.
  """
  unknown_fields: str = 'ignore'
  coerce_types: bool = False
  non_finite_floats: str = 'reject'
  text_input: bool = False

  def __post_init__(self):
    if self.unknown_fields not in UNKNOWN_FIELD_POLICIES:
      raise ValueError(f'unknown_fields must be one of {UNKNOWN_FIELD_POLICIES}, '
                       f'got {self.unknown_fields!r}')
    if self.non_finite_floats not in NON_FINITE_POLICIES:
      raise ValueError(f'non_finite_floats must be one of {NON_FINITE_POLICIES}, '
                       f'got {self.non_finite_floats!r}')

  @property
  def coerce(self):
    return self.coerce_types or self.text_input


class FieldProblem(NamedTuple):
  """One reason a record was rejected."""
  kind: str      # type_mismatch, missing_required, out_of_range, ...
  path: str      # the stable path, without array indexes: items.sku
  location: str  # the exact place: items[2].sku
  detail: str

  @property
  def error_type(self):
    if self.kind == 'schema_drift':
      return self.kind
    return f'{self.kind}:{self.path}' if self.path else self.kind

  def describe(self):
    return f'{self.location}: {self.detail}'


class _Context:
  __slots__ = ('problems',)

  def __init__(self):
    self.problems = []

  def add(self, kind, path, location, detail):
    self.problems.append(FieldProblem(kind, path, location, detail))


class RecordValidator:
  """Validates decoded records (dicts) against a table schema."""

  def __init__(self, schema, policy=None):
    self.schema = load_schema(schema)
    self.policy = policy or ValidationPolicy()
    self._check_record = _compile_record(self.schema.fields, '', self.policy)

  def validate(self, obj):
    """Returns ``(row, problems)``; ``row`` is None when there are problems."""
    ctx = _Context()
    if not isinstance(obj, dict):
      ctx.add('not_an_object', '', '<root>',
              f'a record must be a JSON object, got {type_name(obj)}')
      return None, ctx.problems
    row = self._check_record(obj, '', ctx)
    if ctx.problems:
      return None, ctx.problems
    return row, []


def unknown_slot(position):
  """How a path names the ``position``-th (1-based) key of an object that the schema does
  not know: ``<unknown#1>``, as in ``unknown_field:user.address.<unknown#1>``."""
  return f'<unknown#{position}>'


def summarize(problems):
  """(errorType, message) for a list of problems: the first one's type, all the reasons."""
  # New fields (schema drift) come last: a record with a real problem is reported as that.
  problems = sorted(problems, key=lambda p: p.kind == 'schema_drift')
  first = problems[0]
  shown = [p.describe() for p in problems[:MAX_PROBLEMS_REPORTED]]
  more = len(problems) - len(shown)
  message = '; '.join(shown) + (f'; and {more} more' if more > 0 else '')
  return first.error_type, message


def _compile_record(fields, prefix, policy):
  """A function (obj, location_prefix, ctx) -> row dict for one RECORD level."""
  checks = []
  by_name = {}
  by_lower = {}
  for spec in fields:
    path = prefix + spec.name
    checks.append((spec.name, spec, path, _compile_field(spec, path, policy)))
    by_name[spec.name] = spec
    by_lower[spec.name.lower()] = spec.name
  dead_letter_unknown = policy.unknown_fields == 'dead_letter'
  drift_unknown = policy.unknown_fields == 'schema_drift'
  text_input = policy.text_input

  def check_record(obj, location, ctx):
    row = {}
    matched = 0
    for name, spec, path, check_field in checks:
      if name in obj:
        matched += 1
        value = obj[name]
      else:
        value = None
        if len(obj) > matched:
          value = _case_insensitive_get(obj, name, by_name)
      if value is None or (text_input and value == '' and spec.type != 'STRING'):
        if spec.required:
          ctx.add('missing_required', path, location + name, 'required field is missing or null')
        elif spec.repeated:
          row[name] = []
        elif name in obj:
          row[name] = None
        continue
      row[name] = check_field(value, location + name, ctx)
    if len(obj) > matched and (dead_letter_unknown or drift_unknown):
      unknown = 0
      for key in obj:
        if key in by_name or key.lower() in by_lower:
          continue  # (matched case-insensitively above)
        unknown += 1
        # A key is input, not schema: the path names its place, never the key itself (an
        # errorType is a counter name and must stay low-cardinality; a key may be an e-mail
        # or a name). The message quotes the key, so MaskDeadLetters removes it.
        slot = unknown_slot(unknown)
        if dead_letter_unknown:
          ctx.add('unknown_field', prefix + slot, location + slot,
                  f'field {key[:60]!r} is not in the schema')
        else:
          ctx.add('schema_drift', prefix + slot, location + slot,
                  f'new field {key[:60]!r}, not in the table schema')
    return row

  return check_record


def _case_insensitive_get(obj, name, by_name):
  # BigQuery column names are case-insensitive; exact matches are the fast path.
  lower = name.lower()
  for key, value in obj.items():
    if key.lower() == lower and key not in by_name:
      return value
  return None


def _compile_field(spec, path, policy):
  """A function (value, location, ctx) -> converted value for one non-null field value."""
  if spec.type == 'RECORD':
    check_record = _compile_record(spec.fields, path + '.', policy)

    def check_scalar(value, location, ctx):
      if not isinstance(value, dict):
        ctx.add('type_mismatch', path, location,
                f'expected an object, got {type_name(value)}')
        return None
      return check_record(value, location + '.', ctx)
  else:
    convert = bq_types.CONVERTERS[spec.type]
    memo = {} if spec.type in _MEMO_TYPES else None

    def check_scalar(value, location, ctx):
      if memo is not None and type(value) is str and len(value) <= _MEMO_MAX_CHARS:  # pylint: disable=unidiomatic-typecheck
        outcome = memo.get(value)
        if outcome is None:
          try:
            outcome = (True, convert(value, spec, policy), None)
          except FieldError as e:
            outcome = (False, e.kind, e.detail)
          if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
          memo[value] = outcome
        if outcome[0]:
          return outcome[1]
        ctx.add(outcome[1], path, location, outcome[2])
        return None
      if ((isinstance(value, list) and spec.type != 'JSON')
          or (isinstance(value, dict) and spec.type not in _OBJECT_TYPES)):
        ctx.add('type_mismatch', path, location,
                f'expected a single {spec.type} value, got {type_name(value)}')
        return None
      try:
        return convert(value, spec, policy)
      except FieldError as e:
        ctx.add(e.kind, path, location, e.detail)
        return None

  fast = _fast_accept(spec, policy)
  if fast is not None:
    general = check_scalar

    def check_scalar(value, location, ctx):  # pylint: disable=function-redefined
      return value if fast(value) else general(value, location, ctx)

  if not spec.repeated:
    return check_scalar

  def check_repeated(value, location, ctx):
    if not isinstance(value, (list, tuple)):
      ctx.add('type_mismatch', path, location,
              f'expected an array (REPEATED), got {type_name(value)}')
      return None
    out = []
    for i, item in enumerate(value):
      where = f'{location}[{i}]'
      if item is None:
        ctx.add('null_element', path, where, 'arrays cannot contain NULL in BigQuery')
        continue
      out.append(check_scalar(item, where, ctx))
    return out

  return check_repeated


def _fast_accept(spec, policy):
  """A predicate true for values the converter would return unchanged, or None.

  The commonest values (an ASCII string for STRING, an int64 for INT64, a finite float for
  FLOAT64, a bool for BOOL) skip the converter call; everything else goes through it, so the
  result is the same either way.
  """
  if spec.type == 'STRING' and spec.max_length is None:
    return lambda value: type(value) is str and value.isascii()  # pylint: disable=unidiomatic-typecheck
  if spec.type == 'INT64':
    return lambda value: type(value) is int and bq_types.INT64_MIN <= value <= bq_types.INT64_MAX  # pylint: disable=unidiomatic-typecheck
  if spec.type == 'FLOAT64':
    return lambda value: type(value) is float and math.isfinite(value)  # pylint: disable=unidiomatic-typecheck
  if spec.type == 'BOOL':
    return lambda value: type(value) is bool  # pylint: disable=unidiomatic-typecheck
  return None
