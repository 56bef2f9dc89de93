"""Payload decoders: raw bytes -> a Python object ready for validation.

A decoder is a callable ``decode(payload: bytes) -> object`` that raises ``DecodeError``
with a stable ``kind`` (the errorType) for input it cannot read. New formats register
here; ``ParseAndValidate`` looks them up by name.
"""

import json

import orjson

UTF8_BOM = b'\xef\xbb\xbf'


class DecodeError(Exception):
  """A payload that cannot be decoded. ``kind`` is the errorType."""
  def __init__(self, kind, detail):
    super().__init__(detail)
    self.kind = kind
    self.detail = detail


def decode_json(payload):
  """Decodes one JSON document.

  orjson is the fast path. It rejects a few inputs the standard library reads (NaN and
  Infinity tokens, integers beyond 64 bits, lone surrogates, deep nesting); those are
  re-read with the standard library so validation can name the offending *field* (an
  out-of-range integer in ``amount`` is ``out_of_range:amount``, not ``invalid_json``).
  """
  try:
    return orjson.loads(payload)
  except orjson.JSONDecodeError as fast_error:
    fast_reason = str(fast_error)
  if not payload.strip():
    raise DecodeError('empty_record', 'the record is empty')
  try:
    text = payload.decode('utf-8')
  except UnicodeDecodeError as e:
    raise DecodeError('invalid_encoding', f'payload is not valid UTF-8: {e.reason} at byte '
                      f'{e.start}') from None
  if text.startswith('\ufeff'):
    raise DecodeError('invalid_json', 'payload starts with a byte order mark (BOM)')
  try:
    return json.loads(text)
  except RecursionError:
    raise DecodeError('nesting_too_deep', 'JSON nested too deeply to read') from None
  except ValueError:
    raise DecodeError('invalid_json', f'not valid JSON: {fast_reason}') from None


DECODERS = {'json': decode_json}


def get_decoder(name):
  try:
    return DECODERS[name]
  except KeyError:
    raise ValueError(f'unknown payload format {name!r}; known: {sorted(DECODERS)}') from None
