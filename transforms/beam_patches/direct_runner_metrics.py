"""Patch ``direct_runner_metrics``: exact user metrics on Beam's BundleBasedDirectRunner
(used for streaming runs).

Beam 2.77 bug, seen here: each executor worker thread of the BundleBasedDirectRunner keeps
one ``StateSampler`` for its lifetime, and ``StateSampler.scoped_state`` caches the
``ScopedState`` of a step *with the MetricsContainer of the first bundle it ran*
(``apache_beam/runners/worker/statesampler.py``). ``TransformExecutor.call`` creates a new
container per bundle and commits that one, but the DoFn's counters keep landing in the first
bundle's container, which was committed once, long ago. Result: a DoFn that processed 5
elements in 3 bundles reports 2 (tests/unit/test_direct_runner_metrics.py shows it).

``apply()`` wraps ``TransformExecutor.call`` so every bundle runs under a
fresh StateSampler, set as the thread's current tracker for the duration of the call; then
``scoped_state`` binds the bundle's own container and counts are exact. Idempotent; affects
only the BundleBasedDirectRunner's executor (FnApiRunner, Dataflow untouched).
"""

import threading

_LOCK = threading.Lock()


def apply():
  from apache_beam.runners.direct import executor
  from apache_beam.runners.worker import statesampler
  from apache_beam.utils import counters
  with _LOCK:
    if getattr(executor.TransformExecutor, '_beam_pipelines_metrics_fix', False):
      return
    original = executor.TransformExecutor.call

    def call(self, state_sampler):
      fresh = statesampler.StateSampler('', counters.CounterFactory())
      statesampler.set_current_tracker(fresh)
      try:
        return original(self, fresh)
      finally:
        statesampler.set_current_tracker(state_sampler)

    executor.TransformExecutor.call = call
    executor.TransformExecutor._beam_pipelines_metrics_fix = True
