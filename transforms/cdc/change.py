"""What a change is once decoded: its operation, order, source time, image and metadata.

Every format's decoder (``beam_pipelines.transforms.cdc.formats``) turns one record into a
``DecodedChange``, a ``Skip`` (tombstones and Debezium ``op: m`` messages: counted, never
dead letters) or raises ``ChangeError`` (a dead letter with a stable errorType).

In the pipeline a change travels as a *change row*: the row image (validated against the
table schema: the ``after`` image of c/r/u, the ``before`` image or message key of d, nothing
for t) plus one member ``_cdc`` holding the change's metadata. That shape goes through the
suite's own steps (MaskPII, EnrichWithSideInput) untouched; ``to_changelog_row`` flattens it
into the change-log shape once the row is final.
"""

import datetime
from typing import Any, Mapping, NamedTuple, Optional

import orjson

from beam_pipelines.transforms.cdc.ordering import change_id
from beam_pipelines.transforms.validate.bq_temporal import to_timestamp
from beam_pipelines.transforms.validate.field_error import FieldError

# Operations, Debezium's letters: create, read (snapshot), update, delete, truncate.
OPS = ('c', 'r', 'u', 'd', 't')
ROW_OPS = ('c', 'r', 'u')  # open a version; d and t close one
META = '_cdc'  # the member of a change row that holds its metadata

# Stable errorTypes of the change decoders (docs/cdc.md lists them).
MALFORMED = 'cdc_malformed_envelope'
UNKNOWN_OP = 'cdc_unknown_op'
MISSING_KEY = 'missing_primary_key'
MISSING_AFTER = 'cdc_missing_after'
MISSING_ORDER = 'cdc_missing_order'
MISSING_SOURCE_TIME = 'cdc_missing_source_time'
TRUNCATE = 'cdc_truncate'
UNDECODABLE = 'cdc_undecodable'
INVALID_JSON = 'invalid_json'
EMPTY = 'empty_record'
ERROR_TYPES = (MALFORMED, UNKNOWN_OP, MISSING_KEY, MISSING_AFTER, MISSING_ORDER,
               MISSING_SOURCE_TIME, TRUNCATE, UNDECODABLE, INVALID_JSON, EMPTY)


class ChangeError(Exception):
  """A record that is not a usable change: becomes a dead letter (stage ``parse``)."""

  def __init__(self, error_type, detail, stage='parse'):
    super().__init__(detail)
    self.error_type = error_type
    self.detail = detail
    self.stage = stage


class Skip(NamedTuple):
  """A record that is not a change and is skipped on purpose: ``tombstone`` or ``message``."""
  kind: str


class DecodedChange(NamedTuple):
  """One change as a decoder read it.

  Attributes:
    op: one of ``OPS``.
    order: the encoded order (``beam_pipelines.transforms.cdc.ordering.encode_order``).
    position: the readable order (``{"source_ts_ns": ..., "lsn": ...}``).
    source_ts_us: the change's source time, microseconds since the epoch, or None.
    source: source metadata worth keeping (dict; JSON-able).
    image: the row image to validate (``after`` for c/r/u, ``before`` for d) or None.
    key_image: the primary key from the message key, when the record carried one.
  """
  op: str
  order: str
  position: Mapping[str, Any]
  source_ts_us: Optional[int]
  source: Mapping[str, Any]
  image: Optional[Mapping[str, Any]]
  key_image: Optional[Mapping[str, Any]] = None


_EPOCH = datetime.datetime(1970, 1, 1)
# BigQuery's TIMESTAMP range in microseconds since the epoch.
MIN_MICROS = -62135596800 * 1_000_000
MAX_MICROS = 253402300800 * 1_000_000 - 1


def micros_text(micros, zone='Z'):
  """Microseconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS.ffffff`` + ``zone`` (BigQuery's
  TIMESTAMP JSON form with ``Z``; DATETIME with ``''``). ValueError outside 0001-9999."""
  if not MIN_MICROS <= micros <= MAX_MICROS:
    raise ValueError(f'{micros} microseconds since the epoch is outside 0001-01-01..9999-12-31')
  moment = _EPOCH + datetime.timedelta(microseconds=micros)
  return moment.isoformat(timespec='microseconds') + zone


def timestamp_micros(text):
  """Timestamp text (RFC 3339 / BigQuery forms, any offset; no zone means UTC) ->
  microseconds since the epoch, exactly. ValueError naming the problem."""
  try:
    canonical = to_timestamp(text, None, None)
  except FieldError as e:
    raise ValueError(e.detail) from None
  moment = datetime.datetime.strptime(canonical, '%Y-%m-%dT%H:%M:%S.%fZ')
  return (moment - _EPOCH) // datetime.timedelta(microseconds=1)


def key_json(row, primary_key):
  """The canonical text of a row's primary key: a JSON array of its values (BigQuery JSON
  form, after masking), or None when a key column is missing or NULL."""
  values = [row.get(name) for name in primary_key]
  if any(v is None for v in values):
    return None
  return orjson.dumps(values).decode('utf-8')


def to_changelog_row(change_row, primary_key):
  """A change row (image + ``_cdc``) -> the change-log row: the image's columns plus the
  ``_cdc_*`` columns (``beam_pipelines.transforms.cdc.tables``). ValueError when a row change
  has lost a key column on the way (e.g. masked to NULL)."""
  meta = change_row[META]
  op = meta['op']
  row = {k: v for k, v in change_row.items() if k != META}
  key = None if op == 't' else key_json(row, primary_key)
  if op != 't' and key is None:
    raise ValueError(f'a {op} change lost its primary key value before the merge')
  row.update({
      '_cdc_key': key,
      '_cdc_change_id': change_id(key, meta['order']),
      '_cdc_op': op,
      '_cdc_order': meta['order'],
      '_cdc_source_ts': meta.get('source_ts'),
      '_cdc_position': meta.get('position'),
      '_cdc_source': meta.get('source'),
      '_cdc_source_id': meta.get('source_id'),
      '_cdc_read_at': meta.get('read_at'),
  })
  return row
