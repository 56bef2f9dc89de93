"""What every change decoder shares: JSON loading, tombstones, message keys, the order."""

import json
from typing import Tuple

import orjson

from beam_pipelines.transforms.cdc.change import EMPTY, INVALID_JSON, MALFORMED, ChangeError, Skip
from beam_pipelines.transforms.cdc.formats.connect_types import decode_plain, decode_struct
from beam_pipelines.transforms.cdc.ordering import describe_order, encode_order
from beam_pipelines.transforms.core.schema import load_schema

TOMBSTONE = Skip('tombstone')
MESSAGE = Skip('message')


def load_json(payload):
  """Payload bytes -> the JSON value; ChangeError ``invalid_json`` when it is not JSON."""
  try:
    return orjson.loads(payload)
  except orjson.JSONDecodeError:
    pass
  try:
    return json.loads(payload.decode('utf-8'))
  except (ValueError, RecursionError) as e:
    raise ChangeError(INVALID_JSON, f'not valid JSON: {str(e)[:200]}') from None


def is_blank(payload, attributes=None):
  """A tombstone on Pub/Sub: empty data (or only whitespace). An empty line of a file is no
  tombstone (a file's tombstone is the line ``null``): ChangeError ``empty_record``."""
  if payload and payload.strip():
    return False
  if 'file' in (attributes or {}):
    raise ChangeError(EMPTY, 'the line is empty')
  return True


def order_of(named_components):
  """[(name, value), ...] -> (encoded order, readable position dict)."""
  names = [n for n, _ in named_components]
  values = [v for _, v in named_components]
  try:
    return encode_order(values), describe_order(names, values)
  except ValueError as e:
    raise ChangeError(MALFORMED, f'cannot order the change: {e}') from None


class ChangeDecoder:
  """Base of the format decoders: ``decode(payload, attributes)`` -> DecodedChange or Skip,
  or raises ChangeError. Holds the config, the table schema and the message-key rules.
  ``ROW_PATHS``: where rows sit inside a record (empty: the record is the row), for masking
  dead letters."""
  ROW_PATHS: Tuple[str, ...] = ()

  def __init__(self, config, schema):
    self.config = config
    self.schema = load_schema(schema)
    self.modes = (config.temporal_mode, config.decimal_mode)

  def decode(self, payload, attributes):
    raise NotImplementedError

  def message_key(self, key_value, attributes):
    """The primary key a record carries beside its value: a file record's ``key`` member, or
    the ``key_attribute`` attribute (Debezium Server's key; the Pub/Sub ordering key is
    copied there). A JSON object (optionally ``{"schema", "payload"}``), or a bare value when
    the key has one column. None when there is none."""
    if key_value is None and self.config.key_attribute:
      text = (attributes or {}).get(self.config.key_attribute)
      if text:
        try:
          key_value = orjson.loads(text)
        except orjson.JSONDecodeError:
          key_value = text
    if key_value is None:
      return None
    if isinstance(key_value, dict):
      if 'payload' in key_value and 'schema' in key_value:
        payload = key_value['payload']
        if not isinstance(payload, dict):
          return None
        return decode_struct(payload, key_value['schema'] or {}, self.schema.fields,
                             self.modes)
      return decode_plain(key_value, self.schema.fields, self.modes)
    if len(self.config.primary_key) == 1 and not isinstance(key_value, (list, bool)):
      return decode_plain({self.config.primary_key[0]: key_value}, self.schema.fields,
                          self.modes)
    return None
