"""The raw-message element: what every source turns its input into.

Batch and streaming differ only in where raw messages come from; everything after
``ReadEvents`` sees the same type, so one transform chain serves both.
"""

import time
from typing import Mapping, NamedTuple, Optional

# Rows made from a raw message carry its source_id under this key (transforms.core.elements).
SOURCE_ID_KEY = '__source_id__'


class RawMessage(NamedTuple):
  """One record as it arrived, before any parsing.

  Attributes:
    payload: the record's bytes exactly as read (a JSONL line without its newline, a CSV
      row, a Pub/Sub message body, an Avro/Parquet record serialised as JSON).
    attributes: source attributes (Pub/Sub attributes; ``format`` / ``file`` for files).
    source_id: where it came from: a Pub/Sub message id, ``file:line`` or ``file:record#``.
    ingest_time: seconds since the epoch when it was read (or published, for Pub/Sub).
    event_time: seconds since the epoch of the event, when the source knows it.
  """
  payload: bytes
  attributes: Mapping[str, str]
  source_id: str
  ingest_time: float
  event_time: Optional[float] = None


def raw_message(payload, source_id, attributes=None, event_time=None, ingest_time=None):
  """Builds a RawMessage, encoding a str payload as UTF-8 and stamping ingest time."""
  if isinstance(payload, str):
    payload = payload.encode('utf-8')
  return RawMessage(
      payload=bytes(payload),
      attributes=dict(attributes or {}),
      source_id=source_id,
      ingest_time=time.time() if ingest_time is None else ingest_time,
      event_time=event_time)
