"""A masking policy bound to a table schema: every schema field gets its rule (``BoundPolicy``).

``bind_policy(policy, schema)`` resolves each path of the policy against the schema
(case-insensitively, written with the schema's spelling), gives unnamed fields the nearest
named RECORD ancestor's ``keep``/``drop`` or else the policy's ``default``, drops RECORDs left
with no fields, and raises ``ValueError`` naming the problem (a path not in the schema, a
method that does not fit the field's type) when a pipeline is built. ``masked_schema`` is the
schema of masked rows; ``subject_getter`` reads the erase-list subject of a row.
"""

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from beam_pipelines.transforms.masking.methods.common import canonical_text
from beam_pipelines.transforms.masking.policy import METHODS, MaskingPolicy, load_policy
from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema, load_schema


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

  def kept_paths(self):
    """``{lower-case dotted path: FieldSpec}`` of the schema's leaf fields whose values the
    policy keeps unmasked (the known fields of a kept RECORD too; never a path the schema
    does not know)."""
    out = {}

    def walk(nodes, prefix):
      for n in nodes:
        path = prefix + n.spec.name.lower()
        if n.spec.type == 'RECORD' and n.method in ('record', 'keep'):
          walk(n.children if n.method == 'record' else child_nodes(n.spec, 'keep'),
               path + '.')
        elif n.method == 'keep':
          out[path] = n.spec

    walk(self.nodes, '')
    return out

  def known_paths(self):
    """Lower-case dotted paths of every field of the schema (RECORDs and their fields)."""
    out = set()

    def walk(fields, prefix):
      for f in fields:
        out.add(prefix + f.name.lower())
        walk(f.fields, prefix + f.name.lower() + '.')

    walk(self.schema.fields, '')
    return frozenset(out)


def child_nodes(spec, method):
  """The fields of RECORD ``spec`` as Nodes that all have ``method`` (a kept or dropped
  RECORD's fields share its fate; fields the input adds under it are not among them)."""
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
