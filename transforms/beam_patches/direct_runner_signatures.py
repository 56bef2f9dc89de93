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

``cache_dofn_specs()`` memoises ``userstate.get_dofn_specs`` (the DoFn's declared state and
timer specs), which ``_ParDoEvaluator.start_bundle`` asks three times per bundle of a freshly
unpickled DoFn, each time building a ``MethodWrapper`` for every method of the DoFn (16.8% of
the runner's CPU at 500 msg/s with the signature cache on, BENCHMARKS.md Round 3). The specs
are the defaults of the DoFn's methods: those of its class, plus those of bound methods held
in the instance (``CallableWrapperDoFn`` wrapping a bound method). The cache key is the class
and the functions of those bound methods; a class whose attributes could differ per instance
in other ways (a ``property`` or other custom descriptor, ``__slots__``, ``__getattr__``) is
never cached and gets Beam's own answer. Each call returns new sets.

``cache_dofn_pickles()`` keeps the pickled form of each ParDo's DoFn: ``start_bundle``
checks that a DoFn survives pickling by pickling and unpickling it for every bundle and runs
the copy (14.2% of the runner's CPU at 500 msg/s once the specs are cached, two thirds of it
in pickling). With the patch the DoFn is pickled at its first bundle and each bundle still
gets a fresh unpickled copy (Beam's own TODO: "Consider storing the serialized form"). The
difference: a DoFn that pickles differently later in the run (it reads a module global of
``__main__`` that the program changes while the pipeline runs) keeps its first form, as on
Dataflow, which pickles a DoFn once when the job is submitted.
"""

import inspect
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


# Attribute kinds whose value cannot differ between two instances of a class (for this cache).
_STATIC_KINDS = (types.FunctionType, classmethod, staticmethod, types.BuiltinFunctionType,
                 types.WrapperDescriptorType, types.MethodDescriptorType,
                 types.ClassMethodDescriptorType)


def _same_specs_per_instance(cls):
  """True when ``get_dofn_specs`` of any instance of ``cls`` depends only on ``cls`` and the
  bound methods in the instance's ``__dict__``."""
  from apache_beam.transforms.core import DoFn
  for klass in cls.__mro__:
    if klass is object:
      continue
    if '__getattr__' in vars(klass) or '__getattribute__' in vars(klass):
      return False
  for name in dir(cls):
    attr = inspect.getattr_static(cls, name)
    if not hasattr(type(attr), '__get__') or isinstance(attr, _STATIC_KINDS):
      continue  # plain class data, or functions
    owner = next((k for k in cls.__mro__ if name in vars(k)), object)
    if owner is object or owner.__module__ == 'builtins' or name in ('__dict__', '__weakref__'):
      continue  # an object's own dict, weak reference list, class: never a method
    if owner is DoFn and isinstance(attr, property):
      continue  # DoFn's _process_defined & co. (Beam 2.77): booleans, never a method
    return False
  return True


def _specs_key(dofn, safe_classes):
  cls = type(dofn)
  safe = safe_classes.get(cls)
  if safe is None:
    safe = safe_classes[cls] = _same_specs_per_instance(cls)
  if not safe:
    return None
  instance = getattr(dofn, '__dict__', None) or {}
  bound = tuple((name, value.__func__) for name, value in instance.items()
                if isinstance(value, types.MethodType))
  return (cls, bound)


def cache_dofn_specs():
  from apache_beam.runners.direct import transform_evaluator
  from apache_beam.transforms import userstate
  with _LOCK:
    if getattr(userstate.get_dofn_specs, '_beam_pipelines_cached', False):
      return
    original = userstate.get_dofn_specs
    cache, safe_classes = {}, {}

    def get_dofn_specs(dofn):
      try:
        key = _specs_key(dofn, safe_classes)
        hash(key)
      except TypeError:  # an unhashable bound function: no cache
        key = None
      if key is None:
        return original(dofn)
      specs = cache.get(key)
      if specs is None:
        specs = original(dofn)  # raises as Beam does for a bad DoFn; nothing is cached then
        if len(cache) >= _MAX_ENTRIES:
          cache.clear()
        cache[key] = specs
      return set(specs[0]), set(specs[1])

    get_dofn_specs._beam_pipelines_cached = True  # pylint: disable=protected-access
    for module in (userstate, transform_evaluator):
      if getattr(module, 'get_dofn_specs', None) is original:
        module.get_dofn_specs = get_dofn_specs


class _PicklerKeepingDoFns:
  """Stands in for ``apache_beam.internal.pickler`` in the DirectRunner's evaluators: its
  ``roundtrip(o)`` unpickles ``o``'s pickled form from its first roundtrip."""

  def __init__(self, pickler):
    self._pickler = pickler
    self._pickled = {}  # id(o) -> (o, its pickled form); o kept alive so its id stays its own
    self._beam_pipelines_cached = True

  def __getattr__(self, name):
    return getattr(self._pickler, name)

  def roundtrip(self, o):
    lib = self._pickler.desired_pickle_lib
    dumps, loads = getattr(lib, '_dumps', None), getattr(lib, '_loads', None)
    if dumps is None or loads is None:
      return self._pickler.roundtrip(o)
    entry = self._pickled.get(id(o))
    if entry is None or entry[0] is not o or entry[1] is not lib:
      if len(self._pickled) >= _MAX_ENTRIES:
        self._pickled.clear()
      entry = self._pickled[id(o)] = (o, lib, dumps(o))
    return loads(entry[2])


def cache_dofn_pickles():
  from apache_beam.runners.direct import transform_evaluator
  with _LOCK:
    if getattr(transform_evaluator.pickler, '_beam_pipelines_cached', False):
      return
    transform_evaluator.pickler = _PicklerKeepingDoFns(transform_evaluator.pickler)


def apply():
  """All of the above (idempotent)."""
  cache_dofn_signatures()
  cache_serial_execution_checks()
  cache_dofn_specs()
  cache_dofn_pickles()
