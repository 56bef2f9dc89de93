"""The dead-letter record shared by every stage, and the small result type of fallible steps.

The record is a strict superset of the six fields of Google's DataflowTemplates error table
(timestamp, payloadString, payloadBytes, attributes, errorMessage, stacktrace), so existing
``*_error_records`` tables and dashboards keep working. A dead letter is a plain dict in
BigQuery JSON form (TIMESTAMP as an RFC 3339 string, BYTES as base64), which is also what the
file and Pub/Sub dead-letter sinks write: one shape everywhere.
"""

import base64
import datetime
import traceback
from typing import NamedTuple

import apache_beam as beam

ROWS_TAG = 'rows'
DEAD_LETTER_TAG = 'dead_letters'

# A dead letter keeps at most this much of its payload (twice: as text and as bytes), so a
# record rejected for being oversized still fits in a BigQuery row (10 MB insert limit).
MAX_DEAD_LETTER_PAYLOAD_BYTES = 1024 * 1024

# The stages of the suite's own steps. ``stage`` is free text: a step of your own names
# its stage (``make_dead_letter(..., stage='scoring')``); these are the built-in ones.
STAGES = ('read', 'parse', 'validate', 'mask', 'enrich', 'window', 'sink', 'user',
          'quality')
MAX_STAGE_LENGTH = 64

DEAD_LETTER_FIELDS = (
    {'name': 'timestamp', 'type': 'TIMESTAMP', 'mode': 'REQUIRED'},
    {'name': 'payloadString', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'payloadBytes', 'type': 'BYTES', 'mode': 'REQUIRED'},
    {'name': 'attributes', 'type': 'RECORD', 'mode': 'REPEATED', 'fields': [
        {'name': 'key', 'type': 'STRING', 'mode': 'NULLABLE'},
        {'name': 'value', 'type': 'STRING', 'mode': 'NULLABLE'},
    ]},
    {'name': 'errorMessage', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'stacktrace', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'stage', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'errorType', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'sourceId', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'pipeline', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'eventTimestamp', 'type': 'TIMESTAMP', 'mode': 'NULLABLE'},
)


def dead_letter_table_schema():
  """The dead-letter table's schema (a ``TableSchema``; ``.to_json()`` is the
  ``{'fields': [...]}`` form Beam's sink and ``bq mk`` take)."""
  from beam_pipelines.transforms.core.schema import load_schema
  return load_schema({'fields': [dict(f) for f in DEAD_LETTER_FIELDS]})


class FallibleResult(NamedTuple):
  """What a fallible transform returns: the good elements and the dead letters."""
  rows: beam.PCollection
  dead_letters: beam.PCollection


def format_timestamp(epoch_seconds):
  """Seconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (BigQuery TIMESTAMP JSON)."""
  moment = datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.timezone.utc)
  # isoformat, not strftime: faster, and it zero-pads years before 1000 ('0001-...'), which
  # glibc's %Y does not.
  return moment.isoformat(timespec='microseconds')[:-6] + 'Z'



def check_stage(stage):
  """``stage``, or ValueError: a non-empty name of at most MAX_STAGE_LENGTH characters."""
  if not isinstance(stage, str) or not stage.strip() or len(stage) > MAX_STAGE_LENGTH or \
      any(c in stage for c in '\r\n\t'):
    raise ValueError(f'stage must be a short name (1-{MAX_STAGE_LENGTH} characters, one line, '
                     f'e.g. one of {", ".join(STAGES)}), got {stage!r}')
  return stage


def make_dead_letter(
    payload,
    *,
    stage,
    error_type,
    message,
    source_id=None,
    attributes=None,
    stacktrace=None,
    pipeline=None,
    event_time=None,
    now=None):
  """Builds one dead-letter record (a dict with exactly the 11 fields of the table).

  Args:
    payload: the original payload, bytes or str (anything else is stored as its repr).
    stage: the step that failed: one of STAGES for the suite's steps, or a name of your
      own (non-empty text, at most MAX_STAGE_LENGTH characters, no line breaks).
    error_type: a stable machine code such as ``invalid_json`` or ``missing_required:a.b``.
    message: a human-readable reason naming the field.
    now: seconds since the epoch to stamp (defaults to the current time).
  """
  check_stage(stage)
  if isinstance(payload, str):
    payload_bytes = payload.encode('utf-8')
  elif isinstance(payload, (bytes, bytearray, memoryview)):
    payload_bytes = bytes(payload)
  else:
    payload_bytes = repr(payload).encode('utf-8')
  if len(payload_bytes) > MAX_DEAD_LETTER_PAYLOAD_BYTES:
    message = (f'{message} (payload truncated from {len(payload_bytes)} to '
               f'{MAX_DEAD_LETTER_PAYLOAD_BYTES} bytes)')
    payload_bytes = payload_bytes[:MAX_DEAD_LETTER_PAYLOAD_BYTES]
  if now is None:
    now = datetime.datetime.now(tz=datetime.timezone.utc).timestamp()
  return {
      'timestamp': format_timestamp(now),
      'payloadString': payload_bytes.decode('utf-8', errors='replace'),
      'payloadBytes': base64.b64encode(payload_bytes).decode('ascii'),
      'attributes': [
          {'key': str(k), 'value': None if v is None else str(v)}
          for k, v in sorted((attributes or {}).items())
      ],
      'errorMessage': message,
      'stacktrace': stacktrace,
      'stage': stage,
      'errorType': error_type,
      'sourceId': source_id,
      'pipeline': pipeline,
      'eventTimestamp': None if event_time is None else format_timestamp(event_time),
  }


def dead_letter_from_message(message, *, stage, error_type, reason, pipeline=None,
                             exc=None):
  """A dead letter for a RawMessage, keeping its payload, attributes and source id."""
  return make_dead_letter(
      message.payload,
      stage=stage,
      error_type=error_type,
      message=reason,
      source_id=message.source_id,
      attributes=message.attributes,
      stacktrace=format_exception(exc) if exc is not None else None,
      pipeline=pipeline,
      event_time=message.event_time)


def format_exception(exc):
  """The exception's traceback as text, bounded so one record stays well under row limits."""
  text = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
  return text[-16000:]


def payload_bytes(dead_letter):
  """The original payload bytes of a dead-letter record."""
  return base64.b64decode(dead_letter['payloadBytes'])


def pipeline_name_of(pipeline, explicit=None):
  """The name dead letters record in their ``pipeline`` field: ``explicit`` when given, else
  the pipeline's ``--pipeline_name`` option, else its ``--job_name``, else None. Set it once
  on the pipeline's options and every transform of the suite uses it."""
  if explicit:
    return explicit
  options = getattr(pipeline, 'options', None)
  if options is None:
    return None
  values = options.get_all_options(retain_unknown_options=True)
  return values.get('pipeline_name') or values.get('job_name') or None
