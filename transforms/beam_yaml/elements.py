"""Element conversions shared by the Beam YAML wrappers: Beam Rows -> plain dicts, YAML input
rows -> RawMessages, and a fallible result -> YAML's named outputs.
"""

import hashlib
import json
from typing import Mapping

import apache_beam as beam

from beam_pipelines.transforms.core.messages import RawMessage, raw_message


def to_plain(value):
  """Beam Rows (nested too) -> dicts; lists/tuples -> lists; everything else as is."""
  if isinstance(value, beam.Row):
    return {k: to_plain(v) for k, v in value._asdict().items()}
  if isinstance(value, Mapping):
    return {k: to_plain(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)) and not isinstance(value, RawMessage):
    return [to_plain(v) for v in value]
  return value


def to_message(element):
  if isinstance(element, RawMessage):
    return element
  if isinstance(element, (bytes, str)):
    line = element
  else:
    line = getattr(element, 'line', None)
    if line is None:  # a schema'd Row without a line: its fields are the record
      line = json.dumps(to_plain(element), ensure_ascii=False, default=str)
  data = line.encode('utf-8') if isinstance(line, str) else bytes(line)
  # No file position is known here: a content hash identifies the record.
  return raw_message(data, source_id='yaml:' + hashlib.sha1(data).hexdigest()[:16])


def outputs_of(result):
  return {name: getattr(result, name) for name in result._fields}
