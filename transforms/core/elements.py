"""The element kinds the public transforms accept, and the source id rows carry.

A Beam user has raw messages (``ReadEvents``), lines (``str``/``bytes``, e.g. from
``ReadFromText``), dicts and ``beam.Row``s at hand. ``ParseAndValidate`` takes all of them;
the row transforms (masking, enrichment, windowing, quality, user functions, sinks) take rows:
a dict or a ``beam.Row`` (nested Rows become dicts). Any other kind is refused with a dead
letter (``unsupported_element:<kind>``) that names what the step expected: never an empty or
partial row.

Rows made by ``ParseAndValidate(..., with_source_ids=True)`` (the suite's pipelines use it)
carry the source id of their record (a Pub/Sub message id, ``file:line``) under the reserved
key ``SOURCE_ID_KEY``, so a dead letter of any later step (masking, enrichment, user function,
quality, window, sink) still names the record it came from. Every transform of the suite keeps
the key; the sinks of the suite and ``ToBeamRows`` drop it. Before a sink of your own, drop it
with ``without_source_id`` (or the ``DropSourceIds`` transform). No table schema may use the
key as a field name. Without the option rows are plain: exactly the table's columns.
"""

import json
from typing import Any, Dict, Optional, Union

import apache_beam as beam

from beam_pipelines.transforms.core.dead_letter import make_dead_letter
from beam_pipelines.transforms.core.messages import SOURCE_ID_KEY, RawMessage

# Type hints (Beam's typehints): a row of the suite, a dead-letter record, and what a row
# transform accepts.
RowDict = beam.typehints.Dict[str, Any]
DeadLetter = beam.typehints.Dict[str, Any]
RowLike = Union[Dict[str, Any], beam.Row]
AnyElement = Union[RawMessage, bytes, str, Dict[str, Any], beam.Row]


class UnsupportedElement(TypeError):
  """An element of a kind the transform does not take. ``kind`` names it."""

  def __init__(self, kind, expected):
    super().__init__(f'expected {expected}, got {_article(kind)}')
    self.kind = kind


def _article(kind):
  return ('an ' if kind[:1] in 'aeiou' else 'a ') + kind


def is_row(element):
  """A ``beam.Row``, or a schema'd record (a NamedTuple, which is what Beam makes of Rows in a
  PCollection with a schema, e.g. after ``beam.Create([beam.Row(...)])``)."""
  return isinstance(element, beam.Row) or (
      isinstance(element, tuple) and hasattr(element, '_asdict')
      and not isinstance(element, RawMessage))


def element_kind(element):
  """'raw_message', 'bytes', 'str', 'dict', 'row' or the element's type name."""
  if isinstance(element, RawMessage):
    return 'raw_message'
  if isinstance(element, (bytes, bytearray, memoryview)):
    return 'bytes'
  if isinstance(element, str):
    return 'str'
  if isinstance(element, dict):
    return 'dict'
  if is_row(element):
    return 'row'
  return type(element).__name__


def plain(value):
  """``beam.Row``s and schema'd records (nested, in lists too) -> dicts; other values
  unchanged."""
  if isinstance(value, beam.Row):
    return {k: plain(v) for k, v in value.as_dict().items()}
  if is_row(value):
    return {k: plain(v) for k, v in value._asdict().items()}
  if isinstance(value, dict):
    return {k: plain(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)) and not isinstance(value, RawMessage):
    return [plain(v) for v in value]
  return value


def row_dict(element, expected='a row (a dict or a beam.Row)'):
  """A row transform's input as a dict: a dict as it is, a beam.Row converted (nested Rows
  too); UnsupportedElement for any other kind."""
  if isinstance(element, dict):
    return element
  if is_row(element):
    return plain(element)
  raise UnsupportedElement(element_kind(element), expected)


def source_id_of(row):
  """The source id a row carries, or None."""
  return row.get(SOURCE_ID_KEY) if isinstance(row, dict) else None


def with_source_id(row, source_id):
  """``row`` carrying ``source_id`` (None: unchanged). Returns ``row``."""
  if source_id is not None:
    row[SOURCE_ID_KEY] = source_id
  return row


def without_source_id(row):
  """``row`` without the source id key (a copy when it had one)."""
  if isinstance(row, dict) and SOURCE_ID_KEY in row:
    return {k: v for k, v in row.items() if k != SOURCE_ID_KEY}
  return row


def payload_of(element):
  """An element as dead-letter payload text: bytes and str as they are, a raw message's
  payload, rows as JSON (without the source id key), anything else as its repr."""
  if isinstance(element, RawMessage):
    return element.payload
  if isinstance(element, (bytes, str)):
    return element
  if isinstance(element, dict) or is_row(element):
    return json.dumps(without_source_id(plain(element)), ensure_ascii=False, default=str)
  return repr(element)


def unsupported_element_dead_letter(element, stage, step, expected, pipeline=None):
  """The dead letter for an element a step does not take (never a crash, never lost)."""
  kind = element_kind(element)
  source_id: Optional[str] = None
  if isinstance(element, RawMessage):
    source_id = element.source_id
  elif isinstance(element, dict):
    source_id = source_id_of(element)
  return make_dead_letter(
      payload_of(element), stage=stage, error_type=f'unsupported_element:{kind}',
      message=f'{step} expects {expected}, got {_article(kind)}'
              + (': parse it first with ParseAndValidate' if kind in ('raw_message', 'bytes',
                                                                         'str') else ''),
      source_id=source_id, pipeline=pipeline)


class DropSourceIds(beam.PTransform):
  """Rows without the source id key, for a sink of your own (the suite's sinks drop it)."""

  def expand(self, rows):
    return rows | 'DropSourceIds' >> beam.Map(
        lambda row: without_source_id(row_dict(row))).with_output_types(RowDict)
