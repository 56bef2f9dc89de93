"""Masking keys: read from an environment variable, a file or Secret Manager; never argv.

A key *source* names where the key is, never the key itself::

    env:MASKING_KEY                               the variable's value
    file:/etc/masking/key                         the file's bytes (one trailing newline dropped)
    secret:projects/p/secrets/s/versions/3        a Secret Manager secret version
                                                  (``versions/latest`` is resolved once and
                                                  pinned for the run)

Key material may be given as text or as ``base64:<base64 bytes>``; it must be at least 16
bytes. Anything else given as a source is refused with a message that does *not* repeat the
value (it might be a key pasted on the command line).

The key never appears in ``repr``/``str``, logs, metrics or dead letters. What is recorded
is a *key id*: ``k`` + 8 hex characters of a one-way derivation of the key (plus the
Secret Manager version when there is one). Pseudonyms carry the key id as a prefix, so a
rotation is visible in the data.

Secret Manager: uses ``google-cloud-secret-manager`` (installed with ``apache-beam[gcp]``)
through ``SecretManagerServiceClient.access_secret_version``. The tests use a local fake
client installed with ``set_secret_client_factory`` (no network here); the real client path
is the library's documented call and has not been run against real GCP from this repo.

On a distributed runner: a ``secret:`` key is *not* pickled with the pipeline; each worker
fetches it in ``setup()`` and checks its key id matches the one seen at construction. An
``env:`` or ``file:`` key is read where the pipeline is built and travels inside the
serialized pipeline (workers may not have the variable or file): on Dataflow, prefer
``secret:`` so the key is not part of the job graph.
"""

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re

_LOG = logging.getLogger(__name__)
MIN_KEY_BYTES = 16
KEY_SOURCE_KINDS = ('env', 'file', 'secret')
_SECRET_NAME = re.compile(r'^projects/[^/]+/secrets/[^/]+/versions/[^/]+$')
_ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_secret_client_factory = None


def set_secret_client_factory(factory):
  """Installs a callable returning a Secret Manager client (tests: a fake); None resets."""
  global _secret_client_factory
  _secret_client_factory = factory


def parse_key_source(source):
  """(kind, reference) of a key source; ValueError (not echoing the value) when malformed."""
  if not isinstance(source, str) or ':' not in source:
    raise ValueError('masking key source must be env:VARIABLE, file:PATH or '
                     'secret:projects/P/secrets/S/versions/V (the value given is not shown: '
                     'a key is never accepted on the command line)')
  kind, _, ref = source.partition(':')
  if kind not in KEY_SOURCE_KINDS:
    raise ValueError('masking key source must start with env:, file: or secret: (the value '
                     'given is not shown: a key is never accepted on the command line)')
  if kind == 'env' and not _ENV_NAME.match(ref):
    raise ValueError(f'env: key source needs a variable name, got {ref!r}')
  if kind == 'file' and not ref:
    raise ValueError('file: key source needs a path')
  if kind == 'secret' and not _SECRET_NAME.match(ref):
    raise ValueError(f'secret: key source must be projects/P/secrets/S/versions/V, got {ref!r}')
  return kind, ref


def _normalise(raw, where):
  if isinstance(raw, str):
    raw = raw.encode('utf-8')
  if raw.endswith(b'\r\n'):
    raw = raw[:-2]
  elif raw.endswith(b'\n'):
    raw = raw[:-1]
  if raw.startswith(b'base64:'):
    try:
      raw = base64.b64decode(raw[len(b'base64:'):].strip(), validate=True)
    except (binascii.Error, ValueError):
      raise ValueError(f'masking key from {where} starts with base64: but is not valid '
                       'base64') from None
  if len(raw) < MIN_KEY_BYTES:
    raise ValueError(f'masking key from {where} is too short ({len(raw)} bytes; at least '
                     f'{MIN_KEY_BYTES} required)')
  return raw


def _fetch(kind, ref):
  """(key bytes, version or None) from the source; ValueError naming the source."""
  where = f'{kind}:{ref}'
  if kind == 'env':
    value = os.environ.get(ref)
    if value is None or value == '':
      raise ValueError(f'masking key environment variable {ref} is not set or empty')
    return _normalise(value, where), None
  if kind == 'file':
    try:
      from apache_beam.io.filesystems import FileSystems
      with FileSystems.open(ref) as handle:
        raw = handle.read()
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError(f'cannot read masking key file {ref}: {type(e).__name__}') from None
    return _normalise(raw, where), None
  factory = _secret_client_factory
  if factory is None:
    try:
      from google.cloud import secretmanager
    except ImportError:
      raise ValueError('secret: key sources need google-cloud-secret-manager '
                       '(pip install google-cloud-secret-manager)') from None
    factory = secretmanager.SecretManagerServiceClient
  try:
    response = factory().access_secret_version(request={'name': ref})
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'cannot access masking key secret {ref}: {type(e).__name__}: '
                     f'{_first_line(e)}') from None
  version = response.name.rsplit('/', 1)[-1] if getattr(response, 'name', None) else None
  return _normalise(response.payload.data, where), version


def _first_line(exc):
  return str(exc).splitlines()[0][:200] if str(exc) else ''


def key_fingerprint(material):
  """``k`` + 8 hex characters of HMAC(key, purpose): identifies a key without revealing it."""
  return 'k' + hmac.new(material, b'beam-pipelines/masking/key-id', hashlib.sha256).hexdigest()[:8]


class MaskingKey:
  """A masking key loaded from a source. ``key_id`` is safe to log; the bytes are not.

  Example::

      key = MaskingKey.load('env:MASKING_KEY')
      key.key_id        # 'k1a2b3c4d'
  """

  def __init__(self, source, material, version=None):
    self.source = source
    self._kind, self._ref = parse_key_source(source)
    self._material = material
    self.version = version
    self.key_id = key_fingerprint(material)

  @classmethod
  def load(cls, source):
    kind, ref = parse_key_source(source)
    material, version = _fetch(kind, ref)
    if kind == 'secret' and version and ref.endswith('/versions/latest'):
      # Pin the version seen now so every worker uses the same key for the whole run.
      source = f'secret:{ref.rsplit("/", 1)[0]}/{version}'
    key = cls(source, material, version)
    _LOG.info('masking key loaded from %s (key id %s%s)', key.describe_source(), key.key_id,
              f', version {version}' if version else '')
    return key

  def describe_source(self):
    return self.source if self._kind != 'env' else f'env:{self._ref}'

  @property
  def material(self):
    if self._material is None:  # a secret: key after unpickling on a worker
      material, _ = _fetch(self._kind, self._ref)
      if key_fingerprint(material) != self.key_id:
        raise ValueError(f'masking key from {self.source} changed during the run (key id '
                         f'{key_fingerprint(material)} != {self.key_id})')
      self._material = material
    return self._material

  def derived(self, purpose):
    """A sub-key for one purpose (tokens, payload hashes), independent of the others."""
    return hmac.new(self.material, b'beam-pipelines/masking/' + purpose.encode('ascii'),
                    hashlib.sha256).digest()

  def __getstate__(self):
    state = dict(self.__dict__)
    if self._kind == 'secret':
      state['_material'] = None  # workers fetch it again; it never travels in the graph
    return state

  def __repr__(self):
    return f'MaskingKey(source={self.describe_source()!r}, key_id={self.key_id!r})'

  __str__ = __repr__

  def __eq__(self, other):
    return isinstance(other, MaskingKey) and other.key_id == self.key_id

  def __hash__(self):
    return hash(self.key_id)


class DerivedKeys:
  """The per-purpose keys one worker uses, derived once in ``setup()``."""
  __slots__ = ('key_id', 'hmac_key', 'token_key', 'hash_key')

  def __init__(self, key):
    self.key_id = key.key_id
    self.hmac_key = key.material
    self.token_key = key.derived('tokenize')
    self.hash_key = key.derived('payload-hash')

  def __repr__(self):
    return f'DerivedKeys(key_id={self.key_id!r})'
