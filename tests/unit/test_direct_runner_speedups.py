"""The Beam patch direct_runner_signatures (issue 8): same signatures as Beam computes, cached per function."""

import functools
import inspect

import apache_beam as beam
from apache_beam.transforms import core
from apache_beam.typehints import decorators

from beam_pipelines.transforms.beam_patches.direct_runner_signatures import cache_dofn_signatures


class _Fn(beam.DoFn):
  def process(self, element, timestamp=beam.DoFn.TimestampParam):
    yield element


def _plain(a, b=2, *args, **kwargs):
  return a


def test_cached_signatures_equal_beams():
  cache_dofn_signatures()
  cache_dofn_signatures()  # idempotent
  assert getattr(core.get_signature, '_beam_pipelines_cached', False)
  for func in (_plain, _Fn().process, _Fn().process, functools.partial(_plain, 1), len,
               lambda x, y=1: x):
    assert core.get_signature(func) == inspect.signature(func)
  # A bound method's signature drops self whatever instance it is bound to.
  assert list(decorators.get_signature(_Fn().process).parameters) == ['element', 'timestamp']
  assert core.get_function_arguments(_Fn(), 'process')[0] == ['element', 'timestamp']


def test_serial_execution_answers_are_cached_per_transform():
  from apache_beam.runners.direct import transform_evaluator

  from beam_pipelines.transforms import beam_patches
  beam_patches.enable('direct_runner_signatures')
  registry = transform_evaluator.TransformEvaluatorRegistry.__new__(
      transform_evaluator.TransformEvaluatorRegistry)
  seen = []

  class Applied:
    transform = beam.Map(len)

  applied = Applied()
  first = registry.should_execute_serially(applied)
  seen.append(first)
  assert registry.should_execute_serially(applied) is first is False


_COUNT = beam.transforms.userstate.CombiningValueStateSpec('count', sum)
_EXPIRY = beam.transforms.userstate.TimerSpec('expiry', beam.TimeDomain.WATERMARK)


class _Stateful(beam.DoFn):
  def process(self, element, count=beam.DoFn.StateParam(_COUNT),
              expiry=beam.DoFn.TimerParam(_EXPIRY)):
    yield element

  @beam.transforms.userstate.on_timer(_EXPIRY)
  def on_expiry(self, count=beam.DoFn.StateParam(_COUNT)):
    yield count.read()


class _Holder:
  def stateful(self, element, count=beam.DoFn.StateParam(_COUNT)):
    return [element]


class _WithProperty(beam.DoFn):
  """A DoFn whose methods could differ per instance: never cached."""
  def __init__(self, fn):
    self._fn = fn

  @property
  def process(self):
    return self._fn


def _dofns():
  holder = _Holder()
  return [_Fn(), _Stateful(), beam.transforms.core.CallableWrapperDoFn(lambda x: x),
          beam.transforms.core.CallableWrapperDoFn(holder.stateful),
          _WithProperty(holder.stateful), _WithProperty(_Fn().process)]


def test_cached_dofn_specs_equal_beams_for_every_kind_of_dofn():
  from apache_beam.runners.direct import transform_evaluator
  from apache_beam.transforms import userstate

  from beam_pipelines.transforms.beam_patches.direct_runner_signatures import cache_dofn_specs
  expected = [(fn, userstate.get_dofn_specs(fn)) for fn in _dofns()]
  cache_dofn_specs()
  cache_dofn_specs()  # idempotent
  assert transform_evaluator.get_dofn_specs is userstate.get_dofn_specs
  assert getattr(userstate.get_dofn_specs, '_beam_pipelines_cached', False)
  for _ in range(2):  # the second round answers from the cache
    for fn, specs in expected:
      assert userstate.get_dofn_specs(fn) == specs, fn
  # The same classes, new instances (the runner unpickles a DoFn per bundle): same answers,
  # including the two whose specs differ per instance (property) and the wrapped bound method.
  assert [userstate.get_dofn_specs(fn) for fn in _dofns()] == [s for _, s in expected]
  assert expected[1][1] == ({_COUNT}, {_EXPIRY})
  assert expected[3][1] == ({_COUNT}, set())
  assert expected[4][1] == ({_COUNT}, set()) and expected[5][1] == (set(), set())
  assert userstate.is_stateful_dofn(_Stateful()) and not userstate.is_stateful_dofn(_Fn())


def test_cached_dofn_specs_are_computed_once_per_class():
  from apache_beam.transforms import userstate

  from beam_pipelines.transforms.beam_patches import direct_runner_signatures as patch

  class Counted(beam.DoFn):
    def process(self, element, count=beam.DoFn.StateParam(_COUNT)):
      yield element

  patch.cache_dofn_specs()
  wrappers = []
  original = patch.inspect.getattr_static
  from apache_beam.runners import common
  real = common.MethodWrapper

  class CountingWrapper(real):
    def __init__(self, obj, name):
      wrappers.append(name)
      super().__init__(obj, name)

  common.MethodWrapper = CountingWrapper
  try:
    first = userstate.get_dofn_specs(Counted())
    built = len(wrappers)
    second = userstate.get_dofn_specs(Counted())
  finally:
    common.MethodWrapper = real
  assert original is patch.inspect.getattr_static
  assert built > 0 and len(wrappers) == built  # the second instance built no MethodWrapper
  assert first == second == ({_COUNT}, set())
  first[0].clear()  # callers get their own sets
  assert userstate.get_dofn_specs(Counted()) == ({_COUNT}, set())


class _Counter(beam.DoFn):
  def __init__(self):
    self.seen = []

  def process(self, element):
    self.seen.append(element)
    yield len(self.seen)


def test_each_bundle_gets_a_fresh_copy_of_a_dofn_pickled_once(monkeypatch):
  from apache_beam.internal import pickler
  from apache_beam.runners.direct import transform_evaluator

  from beam_pipelines.transforms.beam_patches.direct_runner_signatures import cache_dofn_pickles
  cache_dofn_pickles()
  cache_dofn_pickles()  # idempotent
  lib = pickler.desired_pickle_lib
  dumped = []
  real_dumps = lib._dumps  # pylint: disable=protected-access
  monkeypatch.setattr(lib, '_dumps', lambda o, *a, **k: dumped.append(o) or real_dumps(o, *a, **k))
  fn = _Counter()
  fn.seen.append('before')
  copies = [transform_evaluator.pickler.roundtrip(fn) for _ in range(3)]
  assert dumped == [fn]  # pickled once
  assert len({id(c) for c in copies} | {id(fn)}) == 4  # each bundle its own instance
  list(copies[0].process('x'))
  assert copies[0].seen == ['before', 'x'] and copies[1].seen == ['before'] == fn.seen
  other = _Counter()
  assert transform_evaluator.pickler.roundtrip(other).seen == [] and dumped == [fn, other]
  assert transform_evaluator.pickler.dumps is pickler.dumps  # everything else is Beam's


def test_a_streaming_pipeline_with_a_stateful_dofn_gives_the_same_output_with_the_caches():
  """The three caches switched on, a stateful DoFn over several bundles on the streaming
  DirectRunner (BundleBasedDirectRunner) counts exactly as Beam does without them (the
  unpatched run is tests/unit/test_beam_patches.py's core chain in a fresh interpreter)."""
  from apache_beam.options.pipeline_options import PipelineOptions
  from apache_beam.testing.test_stream import TestStream
  from apache_beam.testing.util import assert_that, equal_to

  from beam_pipelines.transforms import beam_patches
  beam_patches.enable('direct_runner_signatures')

  class Count(beam.DoFn):
    def process(self, element, count=beam.DoFn.StateParam(_COUNT)):
      count.add(1)
      yield element[0], count.read()

  stream = TestStream().add_elements([('a', 1), ('b', 1)]).add_elements([('a', 2)])
  stream = stream.add_elements([('a', 3), ('b', 2)]).advance_watermark_to_infinity()
  with beam.Pipeline(options=PipelineOptions(streaming=True)) as p:
    out = p | stream | beam.ParDo(Count())
    assert_that(out, equal_to([('a', 1), ('b', 1), ('a', 2), ('a', 3), ('b', 2)]))
