"""Patch ``bigquery_row_size``: the size check of Beam's streaming inserts without its
per-row scan of every loaded module.

``BigQueryWriteFn._check_row_size`` measures every row with ``objsize.get_deep_size`` before
batching it into an insertAll request. objsize first builds its exclusion set from the
globals of *every module in ``sys.modules``* (thousands of dicts) for each call, then walks
the row: at 500 msg/s the streaming pipeline spent 12% of its CPU there, almost all of it in
building that set (BENCHMARKS.md Round 3).

``apply()`` replaces the ``get_deep_size`` Beam's ``bigquery`` module calls with one that
computes the same number without that set when the row is plain data (dict, list, tuple,
str, bytes, int, float, bool, None, at any depth, compared by exact type): for such a tree
objsize counts ``sys.getsizeof`` of each distinct object (by identity) except ``None`` that
``gc.get_referents`` reaches from the row (which, for a dict of str keys, is its values
only: CPython does not traverse such keys, so objsize does not count them), and
the exclusion set could only matter if the row held a module's globals dict, which plain
data cannot (a dict with a ``__name__`` key is handed to objsize to be sure). Anything else
(a ``Decimal``, a ``datetime``, a subclass, several arguments) goes to objsize unchanged.
``tests/unit/test_bigquery_row_size.py`` compares both on random rows (hypothesis).
"""

import gc
import sys
import threading

_LOCK = threading.Lock()
_ATOMS = frozenset((str, bytes, int, float, bool))


class _NotPlain(Exception):
  """The object holds something other than plain data."""


def plain_deep_size(obj):
  """objsize's deep size of a plain-data tree; raises _NotPlain for anything else."""
  seen, stack, total = set(), [obj], 0
  getsizeof, referents = sys.getsizeof, gc.get_referents
  while stack:
    item = stack.pop()
    if item is None:
      continue
    key = id(item)
    if key in seen:
      continue
    kind = type(item)
    if kind in _ATOMS:
      pass
    elif kind is dict:
      if '__name__' in item:
        raise _NotPlain()
      stack.extend(referents(item))
    elif kind is list or kind is tuple:
      stack.extend(referents(item))
    else:
      raise _NotPlain()
    seen.add(key)
    total += getsizeof(item)
  return total


def fast_deep_size(original):
  """``original`` (objsize's ``get_deep_size``) with the plain-data fast path."""
  def get_deep_size(*objs, **kwargs):
    if len(objs) == 1 and not kwargs:
      try:
        return plain_deep_size(objs[0])
      except _NotPlain:
        pass
    return original(*objs, **kwargs)

  get_deep_size._beam_pipelines_fast = True  # pylint: disable=protected-access
  return get_deep_size


def apply():
  """Installs the fast path in ``apache_beam.io.gcp.bigquery`` (idempotent)."""
  from apache_beam.io.gcp import bigquery
  with _LOCK:
    if getattr(bigquery.get_deep_size, '_beam_pipelines_fast', False):
      return
    bigquery.get_deep_size = fast_deep_size(bigquery.get_deep_size)
