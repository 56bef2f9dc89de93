"""The attributes of a dead letter under a masking policy.

Attributes come from the input (Pub/Sub message attributes: their keys and values are the
publisher's data) or from the suite's own readers (``file``, ``format``, ``csv_columns``).
The policy's ``attributes`` list names the input attributes whose values may be kept; every
other input attribute follows the policy's ``default``: ``keep`` keeps it, ``drop`` removes
it, key and value. Kept values (and keys) are pattern-redacted. ``csv_columns`` (a CSV file's
header: input too) keeps the names of schema columns and of columns ``default: keep`` keeps;
any other name becomes ``<unknown#N>`` (its position among the unknown columns).
"""

import json

from beam_pipelines.transforms.masking.patterns import redact_patterns
from beam_pipelines.transforms.read.formats.csv_format import COLUMNS_ATTRIBUTE
from beam_pipelines.transforms.validate.validator import unknown_slot

# Attributes the suite's file readers set: the file's path and format.
SUITE_ATTRIBUTES = ('file', 'format')


def compile_attribute_masker(bound):
  """A function ``[{'key', 'value'}] -> [{'key', 'value'}]`` applying ``bound``'s policy to
  a dead letter's attributes (module docstring)."""
  keep_unknown = bound.policy.default == 'keep'
  named = frozenset(bound.policy.attributes) | frozenset(SUITE_ATTRIBUTES)
  columns = {f.name.lower(): f.name for f in bound.schema.fields}

  def header(value):
    try:
      names = json.loads(value)
    except (TypeError, ValueError):
      names = None
    if not isinstance(names, list):  # not a header: nothing in it can be told apart
      return json.dumps([unknown_slot(1)])
    out, unknown = [], 0
    for name in names:
      if isinstance(name, str) and name.strip().lower() in columns:
        out.append(name)
      elif keep_unknown and isinstance(name, str):
        out.append(redact_patterns(name))
      else:
        unknown += 1
        out.append(unknown_slot(unknown))
    return json.dumps(out, ensure_ascii=False)

  def mask(attributes):
    out = []
    for attribute in attributes or ():
      key, value = attribute.get('key'), attribute.get('value')
      if key == COLUMNS_ATTRIBUTE:
        out.append({'key': key, 'value': None if value is None else header(value)})
      elif key in named:
        out.append({'key': key, 'value': redact_patterns(value)})
      elif keep_unknown:
        out.append({'key': redact_patterns(key), 'value': redact_patterns(value)})
    return out
  return mask
