"""Element conversions shared by the Beam YAML wrappers.

YAML's own sources emit Beam Rows: ``ReadFromText`` a ``Row(line=...)`` per line, ``Create``
a Row per element. The suite's transforms take Rows as they are (converted to dicts); only a
Row that is a text line is turned into a raw message, so ``ParseAndValidate`` decodes its
text. A fallible transform's result becomes YAML's named outputs (``Step.rows``,
``Step.dead_letters``).
"""

import hashlib

from beam_pipelines.transforms.core.elements import is_row, plain
from beam_pipelines.transforms.core.messages import RawMessage, raw_message

DERIVED = 'derived'


def to_plain(value):
  """Beam Rows (nested too) -> dicts; lists/tuples -> lists; everything else as is."""
  return plain(value)


def _is_line(element):
  return is_row(element) and list(plain(element)) == ['line']


def to_message(element):
  """A YAML input element for ``ParseAndValidate``: a ``Row(line=...)`` (or a bare line)
  becomes a raw message whose source id is a hash of its text (no file position is known
  here); raw messages, dicts and record Rows pass as they are."""
  if isinstance(element, (RawMessage, dict)) or (is_row(element) and not _is_line(element)):
    return element
  line = element.line if is_row(element) else element
  data = line.encode('utf-8') if isinstance(line, str) else bytes(line)
  return raw_message(data, source_id='yaml:' + hashlib.sha1(data).hexdigest()[:16])


def schema_setting(schema):
  """A YAML ``schema`` setting: ``derived`` (or left out) -> None, the schema the input rows
  were made with; else the schema itself (a path or the JSON)."""
  if schema is None or (isinstance(schema, str) and schema.strip() == DERIVED):
    return None
  return to_plain(schema)


def outputs_of(result):
  """A NamedTuple of PCollections -> YAML's named outputs."""
  return {name: getattr(result, name) for name in result._fields}
