"""What ``MaskPII`` and ``MaskDeadLetters`` share: binding a policy given unbound, checking the
key, the erase list as a side input or a reloading cache, and the keyed payload hash.
"""

import hashlib
import hmac as _hmac

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.masking.binding import BoundPolicy, bind_policy
from beam_pipelines.transforms.masking.erasure import EraseListCache, ReloadingEraseList
from beam_pipelines.transforms.masking.keys import MaskingKey


def bind_if_needed(policy, schema):
  if isinstance(policy, BoundPolicy):
    return policy
  return bind_policy(policy, schema)


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
