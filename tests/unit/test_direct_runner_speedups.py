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
