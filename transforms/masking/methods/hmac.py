"""hmac: a keyed SHA-256 pseudonym, ``<key_id>:<hex digest>``.

The same value and key always give the same pseudonym (joins across tables and runs still
work); another key gives another pseudonym, and the key id prefix makes a rotation visible
in the data. Parameters:

- ``context`` (optional string): hashed in front of the value (``context\\x00value``), so the
  same value in two unrelated fields does not get the same pseudonym. Leave it unset in
  fields that must join with each other.
- ``length`` (optional, 16..64): hex characters kept (default 64, the full digest).

Output type: STRING (any scalar input type; JSON values are hashed as canonical JSON).
Pseudonymised data is still personal data under GDPR: whoever holds the key can link it.
"""

import dataclasses
import hashlib
import hmac as _hmac

from beam_pipelines.transforms.masking.methods.common import canonical_text, check_params, int_param, str_param

NAME = 'hmac'
KEYED = True


def validate(params, spec, path):
  check_params(params, ('context', 'length'), path, NAME)
  return {'context': str_param(params, 'context', path, None, allow_none=True),
          'length': int_param(params, 'length', path, 64, 16, 64)}


def output_field(spec, params):
  return dataclasses.replace(spec, type='STRING', fields=(), max_length=None, precision=None,
                             scale=None, description='hmac-sha256 pseudonym <key_id>:<hex>')


def pseudonym(key, key_id, value, context=None, length=64):
  """The pseudonym of one value: what the pipeline writes and what ``forget`` looks for."""
  text = canonical_text(value)
  if context is not None:
    text = context + '\x00' + text
  digest = _hmac.new(key, text.encode('utf-8'), hashlib.sha256).hexdigest()
  return f'{key_id}:{digest[:length]}'


def compile(spec, params, keys):  # pylint: disable=redefined-builtin
  key = keys.hmac_key
  prefix = keys.key_id + ':'
  length = params['length']
  context = params['context']
  new = _hmac.new
  sha256 = hashlib.sha256
  if context is None and spec.type == 'STRING':
    keyed = new(key, digestmod=sha256)  # the key schedule once; a copy per value is cheaper

    def mask(value):  # the fast path: most pseudonymised fields are strings
      h = keyed.copy()
      h.update(value.encode('utf-8'))
      return prefix + h.hexdigest()[:length]
    return _tolerant(mask)

  def mask_any(value):
    text = canonical_text(value)
    if context is not None:
      text = context + '\x00' + text
    return prefix + new(key, text.encode('utf-8'), sha256).hexdigest()[:length]
  return mask_any


def _tolerant(fast):
  def mask(value):
    if isinstance(value, str):
      return fast(value)
    return fast(canonical_text(value))
  return mask
