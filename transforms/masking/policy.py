"""Masking policies: load a YAML/JSON file, validate it against a table schema, compile it.

Policy file::

    version: 1
    default: drop              # fields the policy does not name: drop | keep
    fields:
      event_id: keep
      user.id: hmac                             # short form: just the method
      user.email: {method: partial, keep: email_domain}
      user.birth_date: {method: generalize, to: year}
      device.ip: {method: generalize, to: network}
      items: keep                               # a RECORD: keep (all its fields) or drop
      items.price: {method: generalize, to: bucket, size: 100}   # a rule inside a kept RECORD

Paths are dotted (``user.address.city``), matched case-insensitively against the schema and
written with the schema's spelling. A path through a REPEATED RECORD (``items.sku``) applies
to every element; a rule on a REPEATED scalar (``tags``) applies to every value.

Unnamed fields take the nearest named RECORD ancestor's ``keep``/``drop``, else ``default``.
A RECORD left with no fields is dropped. ``bind_policy`` raises ``ValueError`` naming the
problem (unknown method, path not in the schema, bad parameter) when a pipeline is built.
"""

import dataclasses
import json
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from transforms.masking import (drop, generalize, hmac, keep, partial, redact,  # noqa: F401
                                tokenize)
from transforms.masking.common import REDACTED, canonical_text
from transforms.masking.patterns import redact_patterns
from transforms.schema import FieldSpec, TableSchema, load_schema

METHODS = {m.NAME: m for m in (hmac, tokenize, redact, partial, generalize, drop, keep)}
DEFAULTS = ('drop', 'keep')
_TOP_LEVEL = ('version', 'default', 'fields', 'description')


@dataclass(frozen=True)
class FieldRule:
  """One named field: its path as written in the policy, the method and its parameters."""
  path: str
  method: str
  params: Mapping[str, object]


@dataclass(frozen=True)
class MaskingPolicy:
  """A parsed policy file (not yet checked against a schema: see ``bind_policy``)."""
  default: str
  rules: Tuple[FieldRule, ...]
  source: str = 'policy'

  @property
  def keyed(self):
    return any(METHODS[r.method].KEYED for r in self.rules)


def load_policy(source):
  """A MaskingPolicy from a YAML/JSON file path, YAML/JSON text, or a dict.

  Raises ValueError naming the file and the problem.
  """
  if isinstance(source, MaskingPolicy):
    return source
  where = 'masking policy'
  if isinstance(source, str):
    if '\n' in source or source.lstrip().startswith('{'):
      text = source
    else:
      where = source
      text = _read_text(source)
    try:
      import yaml
      source = yaml.safe_load(text)
    except ImportError:  # JSON is valid YAML; without PyYAML accept JSON only
      try:
        source = json.loads(text)
      except ValueError as e:
        raise ValueError(f'{where}: not valid JSON (install PyYAML for YAML): {e}') from None
    except Exception as e:  # pylint: disable=broad-except  (yaml.YAMLError)
      raise ValueError(f'{where}: not valid YAML/JSON: {e}') from None
  if not isinstance(source, dict):
    raise ValueError(f'{where}: a policy must be a mapping with "default" and "fields"')
  for key in source:
    if key not in _TOP_LEVEL:
      raise ValueError(f'{where}: unknown top-level key {key!r} (allowed: {list(_TOP_LEVEL)})')
  if source.get('version', 1) != 1:
    raise ValueError(f'{where}: unsupported version {source.get("version")!r} (only 1)')
  default = source.get('default')
  if default not in DEFAULTS:
    raise ValueError(f'{where}: default must be drop or keep (what happens to fields the '
                     f'policy does not name), got {default!r}')
  fields = source.get('fields') or {}
  if not isinstance(fields, dict):
    raise ValueError(f'{where}: fields must be a mapping of field path -> method')
  rules = []
  for path, rule in fields.items():
    if not isinstance(path, str) or not path or any(not p for p in path.split('.')):
      raise ValueError(f'{where}: invalid field path {path!r}')
    if isinstance(rule, str):
      method, params = rule, {}
    elif isinstance(rule, dict):
      params = dict(rule)
      method = params.pop('method', None)
    else:
      raise ValueError(f'{where}: {path}: expected a method name or a mapping with "method", '
                       f'got {rule!r}')
    if method not in METHODS:
      raise ValueError(f'{where}: {path}: unknown method {method!r} (known: '
                       f'{sorted(METHODS)})')
    rules.append(FieldRule(path=path, method=method, params=params))
  return MaskingPolicy(default=default, rules=tuple(rules), source=where)


def _read_text(path):
  from apache_beam.io.filesystems import FileSystems
  try:
    with FileSystems.open(path) as f:
      return f.read().decode('utf-8')
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'cannot read masking policy {path!r}: {e}') from None


@dataclass(frozen=True)
class Node:
  """One schema field with its effective masking: ``keep``, ``drop``, ``record`` (some of
  its sub-fields are masked: see ``children``) or a value method."""
  spec: FieldSpec
  path: str
  method: str
  params: Mapping[str, object]
  children: Tuple['Node', ...] = ()
  output: Optional[FieldSpec] = None


@dataclass(frozen=True)
class BoundPolicy:
  """A policy checked against one input schema: the effective rule of every field and the
  masked output schema."""
  policy: MaskingPolicy
  schema: TableSchema
  nodes: Tuple[Node, ...]
  output_schema: TableSchema

  def node(self, path):
    """The Node at a canonical dotted path (case-insensitive), or None."""
    nodes, found = self.nodes, None
    for part in path.lower().split('.'):
      found = next((n for n in nodes if n.spec.name.lower() == part), None)
      if found is None:
        return None
      nodes = found.children
    return found

  def keep_leaf_names(self):
    """Lower-case leaf names for which every field of that name is kept unmasked."""
    verdict = {}

    def walk(nodes, kept_ancestor):
      for n in nodes:
        name = n.spec.name.lower()
        if n.spec.type == 'RECORD':
          if n.method == 'record':
            walk(n.children, False)
          else:  # a kept or dropped RECORD: all its leaves share its fate
            walk(_leaves(n.spec, n.method), False)
          continue
        is_kept = kept_ancestor or n.method == 'keep'
        verdict[name] = verdict.get(name, True) and is_kept

    walk(self.nodes, False)
    return frozenset(name for name, kept in verdict.items() if kept)


def _leaves(spec, method):
  return tuple(Node(spec=f, path=f.name, method=method, params={}) for f in spec.fields)


def bind_policy(policy, schema):
  """Checks ``policy`` against ``schema`` and returns a BoundPolicy.

  Raises ValueError naming the policy file and the path: a path not in the schema, a method
  that does not fit the field's type, a bad or unknown parameter, a rule below a dropped
  RECORD.
  """
  policy = load_policy(policy)
  schema = load_schema(schema)
  rules = {}
  for rule in policy.rules:
    spec = schema.find(rule.path)
    if spec is None:
      raise ValueError(f'{policy.source}: field path {rule.path!r} is not in the input schema')
    canonical = _canonical_path(schema, rule.path)
    if canonical.lower() in rules:
      raise ValueError(f'{policy.source}: field path {rule.path!r} is named twice')
    rules[canonical.lower()] = rule
  try:
    nodes = _bind_level(schema.fields, '', policy.default, rules, policy)
  except ValueError as e:
    raise ValueError(f'{policy.source}: {e}') from None
  outputs = tuple(n.output for n in nodes if n.output is not None)
  if not outputs:
    raise ValueError(f'{policy.source}: the policy drops every field of the schema')
  return BoundPolicy(policy=policy, schema=schema, nodes=nodes,
                     output_schema=TableSchema(fields=outputs))


def _canonical_path(schema, path):
  parts, fields = [], schema.fields
  for part in path.split('.'):
    spec = next(f for f in fields if f.name.lower() == part.lower())
    parts.append(spec.name)
    fields = spec.fields
  return '.'.join(parts)


def _bind_level(fields, prefix, inherited, rules, policy):
  nodes = []
  for spec in fields:
    path = prefix + spec.name
    rule = rules.get(path.lower())
    if spec.type == 'RECORD':
      nodes.append(_bind_record(spec, path, rule, inherited, rules, policy))
      continue
    method = rule.method if rule else inherited
    module = METHODS[method]
    params = module.validate(dict(rule.params) if rule else {}, spec, path)
    nodes.append(Node(spec=spec, path=path, method=method, params=params,
                      output=module.output_field(spec, params)))
  return tuple(nodes)


def _bind_record(spec, path, rule, inherited, rules, policy):
  below = [r.path for key, r in rules.items() if key.startswith(path.lower() + '.')]
  if rule is not None:
    if rule.method not in ('keep', 'drop'):
      raise ValueError(f'{path}: method {rule.method} cannot apply to a RECORD; use keep or '
                       'drop, or name its fields')
    METHODS[rule.method].validate(dict(rule.params), spec, path)
  method = rule.method if rule else inherited
  if method == 'drop' and rule is not None and below:
    raise ValueError(f'{path} is dropped but the policy also names {below[0]!r} inside it')
  if method == 'drop' and not below:
    return Node(spec=spec, path=path, method='drop', params={})
  if method == 'keep' and not below:
    return Node(spec=spec, path=path, method='keep', params={}, output=spec)
  children = _bind_level(spec.fields, path + '.', method, rules, policy)
  outputs = tuple(c.output for c in children if c.output is not None)
  if not outputs:
    return Node(spec=spec, path=path, method='drop', params={}, children=children)
  mode = spec.mode
  return Node(spec=spec, path=path, method='record', params={}, children=children,
              output=dataclasses.replace(spec, fields=outputs, mode=mode))


def masked_schema(schema, policy):
  """The output table schema: ``schema`` with ``policy`` applied (a TableSchema)."""
  return bind_policy(policy, schema).output_schema


# ---- compiled maskers ---------------------------------------------------------------------

def compile_row_masker(bound, keys):
  """A function row -> masked row for validated rows (BigQuery JSON form).

  Compiled once per worker: per row it is one dict build per RECORD level, and no work at all
  for kept sub-trees (they are shared, not copied).
  """
  return _compile_nodes(bound.nodes, keys)


def _compile_nodes(nodes, keys):
  entries = []
  for n in nodes:
    if n.method == 'drop':
      continue
    if n.method == 'keep':
      entries.append((n.spec.name, None))
      continue
    if n.method == 'record':
      fn = _compile_nodes(n.children, keys)
    else:
      fn = METHODS[n.method].compile(n.spec, n.params, keys)
    if n.spec.repeated:
      fn = _each(fn)
    entries.append((n.spec.name, fn))
  entries = tuple(entries)

  def mask_record(obj):
    out = {}
    for name, fn in entries:
      if name in obj:
        value = obj[name]
        out[name] = value if fn is None or value is None else fn(value)
    return out
  return mask_record


def _each(fn):
  def each(values):
    out = []
    for value in values:
      masked = fn(value)
      if masked is not None:  # arrays cannot hold NULL (generalize of a non-IP -> dropped)
        out.append(masked)
    return out
  return each


def compile_lenient_masker(bound, keys, text_input=False):
  """A function obj -> masked obj for *raw* decoded payloads (dead letters).

  Raw payloads failed validation: types may be wrong, names may differ in case, unknown
  fields may be present. Every value goes through the policy anyway: a value a method cannot
  handle is replaced by ``[REDACTED]``; kept values still go through pattern redaction; unknown
  fields follow the policy default (``keep`` -> pattern-redacted). A kept RECORD whose value
  is not an object is redacted. ``text_input``: values are CSV cell text (``"42"`` is a valid
  INT64 to keep).
  """
  return _lenient_nodes(bound.nodes, keys, bound.policy.default, text_input)


def _scrub_kept(value):
  if isinstance(value, str):
    return redact_patterns(value)
  if isinstance(value, dict):
    return {k: _scrub_kept(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_scrub_kept(v) for v in value]
  if isinstance(value, (int, float)) and not isinstance(value, bool):
    text = redact_patterns(canonical_text(value))
    return value if text == canonical_text(value) else text
  return value


def _lenient_nodes(nodes, keys, default, text_input=False):
  by_name = {}
  for n in nodes:
    if n.method in ('drop',):
      fn = None
    elif n.method == 'keep':
      fn = (_scrub_kept if n.spec.type in ('RECORD', 'STRING', 'JSON')
            else _kept_if_valid(n.spec, text_input))
    elif n.method == 'record':
      fn = _lenient_nodes(n.children, keys, default, text_input)
    else:
      fn = _guarded(METHODS[n.method].compile(n.spec, n.params, keys))
    by_name[n.spec.name.lower()] = (n, fn)

  def apply(n, fn, value):
    if n.method == 'record':
      return fn(value) if isinstance(value, dict) else REDACTED
    if n.method == 'keep':
      if n.spec.type == 'RECORD' and not isinstance(value, dict):
        return REDACTED  # not a valid value of a RECORD: keep does not cover it
      return fn(value)
    if isinstance(value, (dict, list)) and n.spec.type != 'JSON':
      return REDACTED
    return fn(value)

  def mask_record(obj):
    out = {}
    for key, value in obj.items():
      entry = by_name.get(key.lower()) if isinstance(key, str) else None
      if entry is None:
        if default == 'keep':
          out[key] = _scrub_kept(value)
        continue
      n, fn = entry
      if n.method == 'drop':
        continue
      if value is None:
        out[key] = None
      elif n.spec.repeated and isinstance(value, list):
        out[key] = [None if v is None else apply(n, fn, v) for v in value]
      else:
        out[key] = apply(n, fn, value)
    return out
  return mask_record


def _kept_if_valid(spec, text_input=False):
  """``keep`` says the column's *valid* values are not personal data. In a dead letter a value
  that is not a valid value of its type (a name in a TIMESTAMP column) is redacted."""
  from transforms.bq_types import CONVERTERS, FieldError
  from transforms.validate import ValidationPolicy
  convert = CONVERTERS[spec.type]
  policy = ValidationPolicy(non_finite_floats='allow', text_input=text_input)

  def kept(value):
    if isinstance(value, (dict, list)):
      return REDACTED
    try:
      convert(value, spec, policy)
    except (FieldError, Exception):  # pylint: disable=broad-except
      return REDACTED
    return _scrub_kept(value)
  return kept


def _guarded(fn):
  def guarded(value):
    try:
      return fn(value)
    except Exception:  # pylint: disable=broad-except  (a raw value the method cannot read)
      return REDACTED
  return guarded


def subject_getter(schema, path):
  """A function row -> the subject id (text) at ``path``, or None. ValueError if ``path`` is
  not a non-repeated scalar of the schema."""
  schema = load_schema(schema)
  spec = schema.find(path)
  if spec is None:
    raise ValueError(f'subject field {path!r} is not in the input schema')
  if spec.type == 'RECORD':
    raise ValueError(f'subject field {path!r} is a RECORD, not a scalar id')
  parts, fields = [], schema.fields
  for part in path.split('.'):
    found = next(f for f in fields if f.name.lower() == part.lower())
    if found.repeated:
      raise ValueError(f'subject field {path!r} is inside or is a REPEATED field')
    parts.append(found.name)
    fields = found.fields
  parts = tuple(parts)
  lowered = tuple(p.lower() for p in parts)

  def get(row):
    value = row
    for part in parts:
      if not isinstance(value, dict):
        return None
      value = value.get(part)
    return None if value is None or isinstance(value, (dict, list)) else canonical_text(value)

  def get_lenient(obj):
    value = obj
    for part in lowered:
      if not isinstance(value, dict):
        return None
      value = next((v for k, v in value.items() if isinstance(k, str) and k.lower() == part),
                   None)
    return None if value is None or isinstance(value, (dict, list)) else canonical_text(value)

  get.lenient = get_lenient
  get.leaf = lowered[-1]
  return get
