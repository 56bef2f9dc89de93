"""Masking policies: load and check a policy file (YAML/JSON) into a ``MaskingPolicy``.

Policy file::

    version: 1
    default: drop              # fields the policy does not name: drop | keep
    attributes: [event_type]   # message attributes kept in dead letters (others: default)
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
A RECORD left with no fields is dropped. ``load_policy`` raises ``ValueError`` naming the
problem (unknown method, bad parameter); ``beam_pipelines.transforms.masking.binding.bind_policy`` checks
the policy against a table schema, ``beam_pipelines.transforms.masking.maskers`` compiles it.
"""

import json
from dataclasses import dataclass
from typing import Mapping, Tuple

from beam_pipelines.transforms.compat import moved_names
from beam_pipelines.transforms.masking.methods import (drop, generalize, hmac, keep, partial, redact,
                                                       tokenize)

METHODS = {m.NAME: m for m in (hmac, tokenize, redact, partial, generalize, drop, keep)}
DEFAULTS = ('drop', 'keep')
_TOP_LEVEL = ('version', 'default', 'fields', 'attributes', 'description')


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
  attributes: Tuple[str, ...] = ()

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
  attributes = source.get('attributes') or []
  if not isinstance(attributes, list) or not all(isinstance(a, str) and a for a in attributes):
    raise ValueError(f'{where}: attributes must be a list of attribute names (the message '
                     f'attributes kept in dead letters), got {attributes!r}')
  return MaskingPolicy(default=default, rules=tuple(rules), source=where,
                       attributes=tuple(attributes))


def _read_text(path):
  from apache_beam.io.filesystems import FileSystems
  try:
    with FileSystems.open(path) as f:
      return f.read().decode('utf-8')
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'cannot read masking policy {path!r}: {e}') from None


# Moved to binding/maskers in 0.2; the old names work for one more release.
__getattr__ = moved_names(__name__, {
    'BoundPolicy': 'beam_pipelines.transforms.masking.binding', 'Node': 'beam_pipelines.transforms.masking.binding',
    'bind_policy': 'beam_pipelines.transforms.masking.binding', 'masked_schema': 'beam_pipelines.transforms.masking.binding',
    'subject_getter': 'beam_pipelines.transforms.masking.binding',
    'compile_row_masker': 'beam_pipelines.transforms.masking.maskers',
    'compile_lenient_masker': 'beam_pipelines.transforms.masking.maskers'})
