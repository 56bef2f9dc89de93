"""BigQuery table schemas: load the JSON users already have for ``bq mk`` into typed fields.

Accepted shapes: a list of fields (``bq mk --schema``), ``{"fields": [...]}`` (the REST
TableSchema), or ``{"schema": {"fields": [...]}}`` (``bq show --format=json``). Type aliases
are normalised (INTEGER -> INT64, FLOAT -> FLOAT64, BOOLEAN -> BOOL, STRUCT -> RECORD,
DECIMAL -> NUMERIC, BIGDECIMAL -> BIGNUMERIC). A RANGE column names its element type as
BigQuery's schema JSON does: ``{"name": "r", "type": "RANGE", "rangeElementType": {"type":
"DATE"}}`` (DATE, DATETIME or TIMESTAMP). Problems raise ``ValueError`` naming the field
path, when the schema is loaded, never later inside a pipeline.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Optional, Tuple

from beam_pipelines.transforms.core.messages import SOURCE_ID_KEY

TYPE_ALIASES = {
    'STRING': 'STRING', 'BYTES': 'BYTES',
    'INTEGER': 'INT64', 'INT64': 'INT64',
    'FLOAT': 'FLOAT64', 'FLOAT64': 'FLOAT64',
    'NUMERIC': 'NUMERIC', 'DECIMAL': 'NUMERIC',
    'BIGNUMERIC': 'BIGNUMERIC', 'BIGDECIMAL': 'BIGNUMERIC',
    'BOOLEAN': 'BOOL', 'BOOL': 'BOOL',
    'TIMESTAMP': 'TIMESTAMP', 'DATE': 'DATE', 'TIME': 'TIME', 'DATETIME': 'DATETIME',
    'GEOGRAPHY': 'GEOGRAPHY', 'JSON': 'JSON', 'INTERVAL': 'INTERVAL', 'RANGE': 'RANGE',
    'RECORD': 'RECORD', 'STRUCT': 'RECORD',
}
RANGE_ELEMENT_TYPES = ('DATE', 'DATETIME', 'TIMESTAMP')
MODES = ('NULLABLE', 'REQUIRED', 'REPEATED')
# BigQuery allows 15 levels of nested RECORDs.
MAX_RECORD_DEPTH = 15
# Flexible column names: letters, marks, numbers, connectors, dashes, spaces; 300 characters.
_COLUMN_NAME = re.compile(r'^[^\s.!"$%&\'()*+,./:;<=>?@\[\\\]^`{|}~][^.!"$%&\'()*+,/:;<=>?@\[\\\]^`{|}~]{0,299}$')


@dataclass(frozen=True)
class FieldSpec:
  """One column of a BigQuery schema, with its type normalised."""
  name: str
  type: str
  mode: str = 'NULLABLE'
  fields: Tuple['FieldSpec', ...] = field(default_factory=tuple)
  description: Optional[str] = None
  max_length: Optional[int] = None
  precision: Optional[int] = None
  scale: Optional[int] = None
  range_element_type: Optional[str] = None  # RANGE only: DATE, DATETIME or TIMESTAMP

  def __post_init__(self):
    # Only a RANGE has an element type: a copy made with another type (masking's
    # dataclasses.replace(spec, type='STRING', ...)) drops it.
    if self.type != 'RANGE' and self.range_element_type is not None:
      object.__setattr__(self, 'range_element_type', None)

  @property
  def repeated(self):
    return self.mode == 'REPEATED'

  @property
  def required(self):
    return self.mode == 'REQUIRED'

  def to_json(self):
    """Back to the BigQuery JSON form (as accepted by ``bq mk`` and Beam's sink)."""
    out = {'name': self.name, 'type': 'RECORD' if self.type == 'RECORD' else self.type,
           'mode': self.mode}
    for key in ('description', 'max_length', 'precision', 'scale'):
      value = getattr(self, key)
      if value is not None:
        out['maxLength' if key == 'max_length' else key] = (
            str(value) if key != 'description' else value)
    if self.range_element_type is not None:
      out['rangeElementType'] = {'type': self.range_element_type}
    if self.fields:
      out['fields'] = [f.to_json() for f in self.fields]
    return out


@dataclass(frozen=True)
class TableSchema:
  """A whole table schema: an ordered tuple of top-level fields."""
  fields: Tuple[FieldSpec, ...]

  def to_json(self):
    """``{'fields': [...]}``, the form Beam's WriteToBigQuery takes."""
    return {'fields': [f.to_json() for f in self.fields]}

  def field_names(self):
    return [f.name for f in self.fields]

  def find(self, path):
    """The FieldSpec at a dotted path (``user.address.city``), or None."""
    fields = self.fields
    spec = None
    for part in path.split('.'):
      spec = next((f for f in fields if f.name.lower() == part.lower()), None)
      if spec is None:
        return None
      fields = spec.fields
    return spec


def load_schema(source):
  """Loads a schema from a file path, a JSON string, a list or a dict.

  Raises:
    ValueError: naming the file or field path that is wrong.
  """
  where = 'schema'
  if isinstance(source, TableSchema):
    return source
  if isinstance(source, str):
    stripped = source.lstrip()
    if stripped.startswith(('[', '{')):
      text = source
    else:
      where = source
      text = _read_text(source)
    try:
      source = json.loads(text)
    except ValueError as e:
      raise ValueError(f'{where}: not valid JSON: {e}') from None
  if isinstance(source, dict):
    if 'schema' in source and isinstance(source['schema'], dict):
      source = source['schema']
    if 'fields' not in source:
      raise ValueError(f'{where}: expected a list of fields or an object with "fields"')
    source = source['fields']
  if not isinstance(source, list) or not source:
    raise ValueError(f'{where}: expected a non-empty list of fields')
  schema = TableSchema(fields=_parse_fields(source, prefix='', depth=1, where=where))
  if any(f.name == SOURCE_ID_KEY for f in schema.fields):
    raise ValueError(f'{where}: the field name {SOURCE_ID_KEY!r} is reserved (rows carry their '
                     'source id under it)')
  return schema


def _read_text(path):
  from apache_beam.io.filesystems import FileSystems
  try:
    with FileSystems.open(path) as f:
      return f.read().decode('utf-8')
  except Exception as e:  # any filesystem error: say which file
    raise ValueError(f'cannot read schema file {path!r}: {e}') from None


def _parse_fields(raw_fields, prefix, depth, where):
  if depth > MAX_RECORD_DEPTH:
    raise ValueError(f'{where}: {prefix.rstrip(".")} nests RECORDs deeper than '
                     f'BigQuery allows ({MAX_RECORD_DEPTH} levels)')
  seen = set()
  out = []
  for i, raw in enumerate(raw_fields):
    if not isinstance(raw, dict):
      raise ValueError(f'{where}: field #{i} under {prefix or "<root>"} is not an object')
    name = raw.get('name')
    path = prefix + str(name)
    if not isinstance(name, str) or not _COLUMN_NAME.match(name):
      raise ValueError(f'{where}: invalid field name {name!r} under {prefix or "<root>"}')
    if name.lower() in seen:
      raise ValueError(f'{where}: duplicate field name {path!r} (names are case-insensitive)')
    seen.add(name.lower())
    raw_type = str(raw.get('type', '')).upper()
    if raw_type not in TYPE_ALIASES:
      raise ValueError(f'{where}: field {path!r} has unsupported type {raw.get("type")!r}; '
                       f'supported: {sorted(set(TYPE_ALIASES))}')
    ftype = TYPE_ALIASES[raw_type]
    mode = str(raw.get('mode') or 'NULLABLE').upper()
    if mode not in MODES:
      raise ValueError(f'{where}: field {path!r} has invalid mode {raw.get("mode")!r}')
    children = ()
    if ftype == 'RECORD':
      sub = raw.get('fields')
      if not isinstance(sub, list) or not sub:
        raise ValueError(f'{where}: RECORD field {path!r} needs a non-empty "fields" list')
      children = _parse_fields(sub, path + '.', depth + 1, where)
    elif raw.get('fields'):
      raise ValueError(f'{where}: field {path!r} of type {ftype} cannot have sub-fields')
    out.append(FieldSpec(
        range_element_type=_range_element_type(raw, ftype, path, where),
        name=name, type=ftype, mode=mode, fields=children,
        description=raw.get('description'),
        max_length=_optional_int(raw, 'maxLength', path, where),
        precision=_optional_int(raw, 'precision', path, where),
        scale=_optional_int(raw, 'scale', path, where)))
  return tuple(out)


def _range_element_type(raw, ftype, path, where):
  element = raw.get('rangeElementType')
  if ftype != 'RANGE':
    if element is not None:
      raise ValueError(f'{where}: field {path!r} of type {ftype} cannot have a '
                       'rangeElementType')
    return None
  if isinstance(element, dict):
    element = element.get('type')
  if not isinstance(element, str) or element.upper() not in RANGE_ELEMENT_TYPES:
    raise ValueError(f'{where}: RANGE field {path!r} needs "rangeElementType": {{"type": '
                     f'one of {list(RANGE_ELEMENT_TYPES)}}}, got {raw.get("rangeElementType")!r}')
  return element.upper()


def _optional_int(raw, key, path, where):
  value = raw.get(key)
  if value is None:
    return None
  try:
    number = int(value)
  except (TypeError, ValueError):
    raise ValueError(f'{where}: field {path!r} has non-integer {key} {value!r}') from None
  if number < 0:
    raise ValueError(f'{where}: field {path!r} has negative {key} {value!r}')
  return number


def schema_first(transform, schema, config, config_types):
  """``(schema, config)`` of a transform that takes the schema first (the one convention of
  the public API). A call in the 0.1 order, config first, is recognised by the config's type,
  still works, and warns once per call site (DeprecationWarning)."""
  import warnings
  if isinstance(schema, config_types) and not isinstance(config, config_types):
    warnings.warn(f'{transform}(config, schema) is the argument order of 0.1 and goes in the '
                  f'next release: pass the schema first, {transform}(schema, config), or as '
                  'schema=', DeprecationWarning, stacklevel=3)
    return config, schema
  return schema, config
