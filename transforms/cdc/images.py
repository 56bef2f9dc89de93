"""Change rows through the suite's row steps: the schema MaskPII binds its policy to, and the
checks that masking and enrichment leave the primary key usable.

A change row is the row image plus the member ``_cdc`` (its metadata). MaskPII masks the
image by the policy and keeps ``_cdc`` (a ``keep`` rule is added for it, and its schema names
every member ``DecodeChanges`` sets); enrichment
copies it along. A key column must stay one-to-one through masking (``keep``, ``hmac`` or
``tokenize``: the same input always gives the same output), or two rows would merge into one;
enrichment may not overwrite one.
"""

import dataclasses

from beam_pipelines.transforms.cdc.change import META
from beam_pipelines.transforms.masking.binding import BoundPolicy, bind_policy
from beam_pipelines.transforms.masking.policy import FieldRule, load_policy
from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema, load_schema

KEY_SAFE_METHODS = ('keep', 'hmac', 'tokenize')
# Every member DecodeChanges puts in ``_cdc`` (a ``keep`` on a RECORD keeps its known fields
# only); used to bind the policy, never to validate (``order``/``position`` vary by format).
_META_SPEC = FieldSpec(META, 'RECORD', fields=tuple(
    FieldSpec(name, 'JSON' if name in ('order', 'position') else 'STRING')
    for name in ('op', 'order', 'position', 'source_ts', 'source', 'source_id', 'read_at')),
                       description='change metadata (kept as is)')


def change_schema(row_schema):
  """The schema of change rows: the row's columns plus the ``_cdc`` RECORD."""
  return TableSchema(fields=load_schema(row_schema).fields + (_META_SPEC,))


def bind_change_policy(policy, row_schema, primary_key):
  """A masking policy (file, text, MaskingPolicy or BoundPolicy) bound to the change-row
  schema with ``_cdc`` kept. ValueError when it masks a key column with a method that is not
  one-to-one, or drops it."""
  if isinstance(policy, BoundPolicy):
    policy = policy.policy
  policy = load_policy(policy)
  rules = tuple(r for r in policy.rules if r.path.lower() != META) + (
      FieldRule(META, 'keep', {}),)
  bound = bind_policy(dataclasses.replace(policy, rules=rules), change_schema(row_schema))
  for name in primary_key:
    node = bound.node(name)
    if node is None or node.method not in KEY_SAFE_METHODS:
      method = 'drop' if node is None else node.method
      raise ValueError(f'{policy.source}: primary key column {name!r} is masked with '
                       f'{method!r}; a key column must be masked one-to-one '
                       f'({", ".join(KEY_SAFE_METHODS)}) or rows would merge or vanish')
  return bound


def processed_row_schema(bound_change_policy):
  """The row schema after masking: the bound change policy's output without ``_cdc``."""
  return TableSchema(fields=tuple(f for f in bound_change_policy.output_schema.fields
                                  if f.name != META))


def check_enrichment_keeps_key(enrichment_config, primary_key):
  """ValueError when enrichment would write into a key column."""
  outputs = {n.lower() for n in (enrichment_config.output_fields() or ())}
  clash = [k for k in primary_key if k.lower() in outputs]
  if clash:
    raise ValueError(f'enrichment writes the primary key column(s) {clash}')
