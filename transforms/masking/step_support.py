"""What ``MaskPII`` and ``MaskDeadLetters`` share: binding a policy given unbound, checking the
key, the erase list as a side input or a reloading cache, and the keyed payload hash.
"""

import hashlib
import hmac as _hmac

import warnings

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.core.schema import TableSchema, load_schema
from beam_pipelines.transforms.masking.binding import BoundPolicy, bind_policy
from beam_pipelines.transforms.masking.erasure import EraseListCache, ReloadingEraseList
from beam_pipelines.transforms.masking.keys import MaskingKey
from beam_pipelines.transforms.masking.policy import MaskingPolicy, load_policy


def bind_if_needed(policy, schema):
  if isinstance(policy, BoundPolicy):
    return policy
  return bind_policy(policy, schema)


def schema_and_policy(transform, schema, policy):
  """``(schema, policy)`` in the order of the public API: the schema first. A call in the 0.1
  order, ``(policy, schema, key)``, still works (told apart by what each argument loads as)
  and warns (DeprecationWarning)."""
  if _is_policy(schema) and not _is_policy(policy):
    warnings.warn(f'{transform}(policy, schema, key) is the argument order of 0.1 and goes in '
                  f'the next release: pass the schema first, {transform}(schema, policy, key)',
                  DeprecationWarning, stacklevel=3)
    return policy, schema
  return schema, policy


def _is_policy(value):
  if isinstance(value, (MaskingPolicy, BoundPolicy)):
    return True
  if isinstance(value, TableSchema) or value is None:
    return False
  try:
    load_policy(value)
  except (ValueError, TypeError, OSError):
    return False
  try:
    load_schema(value)
  except (ValueError, TypeError, OSError):
    return True
  return False


def check_key(key, bound):
  if not isinstance(key, MaskingKey):
    raise ValueError(f'key must be a MaskingKey (MaskingKey.load("env:VAR")), got '
                     f'{type(key).__name__}')
  return key


def erase_side_input(erase_ids):
  """(side-input kwargs, static set or ReloadingEraseList) from a PCollection (one
  frozenset), a ReloadingEraseList or an iterable."""
  if erase_ids is None:
    return {}, None
  if isinstance(erase_ids, ReloadingEraseList):
    return {}, erase_ids
  if isinstance(erase_ids, beam.PCollection):
    return {'erase_ids': beam.pvalue.AsSingleton(erase_ids)}, None
  return {}, frozenset(str(s) for s in erase_ids)


def payload_hash(keys, payload):
  """``hmac-sha256:<key_id>:<hex>`` of a payload: lets one find identical payloads without
  keeping them (keyed, so short payloads cannot be confirmed by hashing guesses)."""
  digest = _hmac.new(keys.hash_key, payload, hashlib.sha256).hexdigest()
  return f'hmac-sha256:{keys.key_id}:{digest}'


class EraseMixin:
  """Erase-list lookup shared by both DoFns: a side input, a fixed set or a reloading list."""

  def _setup_erase(self):
    self._erase_cache = None
    if isinstance(self._static_erase, ReloadingEraseList):
      failed = Metrics.counter('mask', 'erase_list_reload_failed')
      self._erase_cache = EraseListCache(self._static_erase, on_reload_failure=failed.inc)

  def _erase_set(self, side_input):
    if side_input is not None:
      return side_input
    if self._erase_cache is not None:
      return self._erase_cache.get()
    return self._static_erase
