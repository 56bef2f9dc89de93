"""Patch ``direct_runner_signatures``: less per-bundle overhead on Beam's BundleBasedDirectRunner
(our streaming runner locally).

Profiled in `make bench-streaming` (BENCHMARKS.md): at 100-1,000 msg/s the runner spends
~45% of its CPU in ``_ParDoEvaluator.start_bundle`` -> ``userstate.get_dofn_specs`` /
``is_stateful_dofn``, which re-inspect the signature of every method of every DoFn for every
bundle (``inspect.signature`` via ``apache_beam.typehints.decorators.get_signature``: ~32%),
while the pipeline's own code is a few percent. Bundles hold a handful of elements, so this
cost is paid per few rows.

``cache_dofn_signatures()`` memoises ``get_signature`` for plain functions and bound methods,
keyed by the function object (for a bound method, its ``__func__``: the signature of a bound
method depends only on the function). ``inspect.Signature`` objects are immutable, so sharing
them is safe; other callables (partials, builtins, classes) are not cached. The table is
bounded (functions created per bundle, e.g. unpickled lambdas, are distinct objects and
would only add entries): when full it is cleared. Idempotent; the result of every call is
what Beam computes, only faster.

``cache_serial_execution_checks()`` memoises
``TransformEvaluatorRegistry.should_execute_serially`` per applied transform (~11% of the
runner's CPU at 1,000 msg/s: it asks ``is_stateful_dofn`` again for every bundle). The answer
depends only on the transform (its class and its DoFn's declared state and timers), which
does not change during a run.
"""

import threading
import types

_LOCK = threading.Lock()
_MAX_ENTRIES = 4096


def cache_dofn_signatures():
  from apache_beam.transforms import core, ptransform, util
  from apache_beam.typehints import decorators
  with _LOCK:
    if getattr(decorators.get_signature, '_beam_pipelines_cached', False):
      return
    original = decorators.get_signature
    cache = {}

    def get_signature(func):
      if isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType):
        key = (True, func.__func__)
      elif isinstance(func, types.FunctionType):
        key = (False, func)
      else:
        return original(func)
      signature = cache.get(key)
      if signature is None:
        signature = original(func)
        if len(cache) >= _MAX_ENTRIES:
          cache.clear()
        cache[key] = signature
      return signature

    get_signature._beam_pipelines_cached = True  # pylint: disable=protected-access
    for module in (decorators, core, ptransform, util):
      if getattr(module, 'get_signature', None) is original:
        module.get_signature = get_signature


def cache_serial_execution_checks():
  from apache_beam.runners.direct import transform_evaluator
  registry = transform_evaluator.TransformEvaluatorRegistry
  with _LOCK:
    if getattr(registry.should_execute_serially, '_beam_pipelines_cached', False):
      return
    original = registry.should_execute_serially

    def should_execute_serially(self, applied_ptransform):
      answers = self.__dict__.setdefault('_beam_pipelines_serial', {})
      key = id(applied_ptransform)
      answer = answers.get(key)
      if answer is None or answer[0] is not applied_ptransform:
        answer = (applied_ptransform, original(self, applied_ptransform))
        answers[key] = answer
      return answer[1]

    should_execute_serially._beam_pipelines_cached = True  # pylint: disable=protected-access
    registry.should_execute_serially = should_execute_serially


def apply():
  """Both of the above (idempotent)."""
  cache_dofn_signatures()
  cache_serial_execution_checks()
