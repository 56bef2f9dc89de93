"""tokenize: a deterministic, short token with a readable prefix: ``<prefix><key_id>_<token>``.

Like ``hmac`` it is keyed and stable (same value and key -> same token), but shorter and
alphanumeric, with a prefix saying what it stands for (``cust_k1a2b3c4d_q3v8...``). It uses
a key derived from the masking key for this purpose only, so a token never equals an hmac
pseudonym of the same value. Parameters:

- ``prefix`` (string, default ``tok_``): letters, digits, ``_`` or ``-``.
- ``length`` (12..52, default 20): base32 characters of the token.

Output type: STRING. Tokens are pseudonyms: still personal data under GDPR.
"""

import base64
import dataclasses
import hashlib
import hmac as _hmac
import re

from beam_pipelines.transforms.masking.methods.common import canonical_text, check_params, int_param, str_param

NAME = 'tokenize'
KEYED = True
_PREFIX = re.compile(r'^[A-Za-z0-9_\-]{0,32}$')


def validate(params, spec, path):
  check_params(params, ('prefix', 'length'), path, NAME)
  prefix = str_param(params, 'prefix', path, 'tok_')
  if not _PREFIX.match(prefix):
    raise ValueError(f'{path}: parameter prefix must be up to 32 letters, digits, _ or -, '
                     f'got {prefix!r}')
  return {'prefix': prefix, 'length': int_param(params, 'length', path, 20, 12, 52)}


def output_field(spec, params):
  return dataclasses.replace(spec, type='STRING', fields=(), max_length=None, precision=None,
                             scale=None, description=f'token {params["prefix"]}<key_id>_...')


def token(token_key, key_id, value, prefix='tok_', length=20):
  digest = _hmac.new(token_key, canonical_text(value).encode('utf-8'), hashlib.sha256).digest()
  return f'{prefix}{key_id}_' + base64.b32encode(digest).decode('ascii')[:length].lower()


def compile(spec, params, keys):  # pylint: disable=redefined-builtin
  key = keys.token_key
  head = f'{params["prefix"]}{keys.key_id}_'
  length = params['length']
  needed = ((length * 5 + 39) // 40) * 5  # digest bytes that encode to >= length characters
  new = _hmac.new
  sha256 = hashlib.sha256
  b32 = base64.b32encode

  def mask(value):
    text = value if isinstance(value, str) else canonical_text(value)
    digest = new(key, text.encode('utf-8'), sha256).digest()
    return head + b32(digest[:needed]).decode('ascii')[:length].lower()
  return mask
