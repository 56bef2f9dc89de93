"""Every patch of Apache Beam internals the suite makes, in one place, each off until switched on.

A patch is a last resort: each one below works around a Beam behaviour that made the suite
wrong, unusable locally, or slow, and the library's transforms give correct results with
every patch off (``tests/unit/test_beam_patches.py`` runs the core chain that way). Nothing
is patched by importing or using a transform.

| patch | Beam symbol it replaces | why | measured effect | can go when |
|---|---|---|---|---|
| ``global_window`` | ``window.GlobalWindow._getTimestampFromProto`` | re-reads a proto constant for every element put in the global window | ~5% of a batch ``files_to_bigquery`` run (BENCHMARKS.md) | Beam memoises it |
| ``bigquery_emulator`` | ``BigqueryV2.BASE_URL``, ``BigQueryWrapper._bigquery_client``, ``bigquery_tools.gcp_bigquery`` | Beam's apitools client has a hard-coded endpoint and both clients ask ``google.auth.default()`` | Beam's BigQuery IO can talk to the local emulator at all (only while ``BIGQUERY_EMULATOR_HOST`` is set; a no-op otherwise) | Beam honours ``BIGQUERY_EMULATOR_HOST`` for both clients |
| ``bigquery_retry_budget`` | ``BigQueryWrapper.__init__`` (wraps its clients' HTTP calls) | Beam's nested retry loops kept a run with BigQuery gone retrying for more than 10 min | a run fails within ``--bigquery_retry_budget_seconds`` of BigQuery going away, naming the table | Beam gets an overall retry deadline for BigQuery calls |
| ``direct_runner_pubsub_pull`` | ``_PubSubReadEvaluator._get_subscriber_client`` (DirectRunner) | an idle pull blocks 30 s (the watermark stalls); 10 messages a pull, each moving the watermark to the wall clock (a burst drained across a window's end is late); a failed pull or ack fails the run | idle pull clamped to ``direct_runner_pull_timeout``; up to 1000 messages a pull; a Pub/Sub restart is ridden out for ``--pubsub_pull_grace`` | the DirectRunner's pull timeout is configurable and tolerant |
| ``direct_runner_metrics`` | ``executor.TransformExecutor.call`` (BundleBasedDirectRunner) | a DoFn's counters land in the first bundle's metrics container | exact counters (a DoFn over 5 elements in 3 bundles reported 2 without it) | Beam fixes ``StateSampler.scoped_state`` caching |
| ``direct_runner_signatures`` | ``decorators.get_signature``, ``TransformEvaluatorRegistry.should_execute_serially``, ``userstate.get_dofn_specs``, ``transform_evaluator.pickler`` | DoFn signatures and state specs re-inspected, and every DoFn pickled again, for every bundle | ~45% of the streaming runner's CPU at 100-1,000 msg/s; then 16.8% in ``get_dofn_specs`` and 14.2% in pickling at 500 msg/s (BENCHMARKS.md round 4) | Beam caches them |
| ``bigquery_row_size`` | ``bigquery.get_deep_size`` (objsize, in ``BigQueryWriteFn._check_row_size``) | objsize rebuilds an exclusion set from every loaded module's globals for every row measured | 12% of the streaming pipeline's CPU at 500 msg/s; the same sizes (hypothesis test) | objsize or Beam stop scanning ``sys.modules`` per call |

How a patch is switched on:

* ``enable('global_window', ...)`` (or ``enable(*ALL)``) in the process that builds the
  pipeline, before building it. ``beam_pipelines``' ``run()`` does this for its pipelines;
  in your own pipeline it is your call, e.g. ``beam_patches.enable('bigquery_emulator')``
  to write to the local BigQuery emulator.
* Worker processes import Beam afresh. The transforms whose DoFns a patch concerns take
  ``enabled()`` at construction and call ``ensure()`` with it in ``DoFn.setup``, so a worker
  gets exactly the patches its pipeline was built with, and none otherwise.
* Each patch names the Beam versions (major.minor) it was written and tested for. On another
  version ``enable`` leaves it off, logs one warning, and the library runs unpatched.
"""

import importlib
import logging
import threading
from dataclasses import dataclass

import apache_beam

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patch:
  """One patch: its name, the module whose ``apply()`` installs it, and what it is for."""
  name: str
  module: str
  beam_symbol: str
  beam_versions: tuple = ('2.77',)


PATCHES = {p.name: p for p in (
    Patch('global_window', 'beam_pipelines.transforms.beam_patches.global_window',
          'apache_beam.transforms.window.GlobalWindow._getTimestampFromProto'),
    Patch('bigquery_emulator', 'beam_pipelines.transforms.beam_patches.bigquery_emulator',
          'apache_beam.io.gcp.bigquery_tools.BigQueryWrapper._bigquery_client'),
    Patch('bigquery_retry_budget', 'beam_pipelines.transforms.beam_patches.bigquery_retry_budget',
          'apache_beam.io.gcp.bigquery_tools.BigQueryWrapper.__init__'),
    Patch('direct_runner_pubsub_pull', 'beam_pipelines.transforms.beam_patches.direct_runner_pubsub_pull',
          'apache_beam.runners.direct.transform_evaluator._PubSubReadEvaluator'
          '._get_subscriber_client'),
    Patch('direct_runner_metrics', 'beam_pipelines.transforms.beam_patches.direct_runner_metrics',
          'apache_beam.runners.direct.executor.TransformExecutor.call'),
    Patch('direct_runner_signatures', 'beam_pipelines.transforms.beam_patches.direct_runner_signatures',
          'apache_beam.typehints.decorators.get_signature'),
    Patch('bigquery_row_size', 'beam_pipelines.transforms.beam_patches.bigquery_row_size',
          'apache_beam.io.gcp.bigquery.get_deep_size'),
)}
ALL = tuple(PATCHES)

_LOCK = threading.Lock()
_enabled: set[str] = set()
_refused: set[str] = set()


def beam_minor_version(version=None):
  """'2.77.0' -> '2.77' (the running Beam's by default)."""
  return '.'.join((version or apache_beam.__version__).split('.')[:2])


def _check_names(names):
  unknown = [n for n in names if n not in PATCHES]
  if unknown:
    raise ValueError(f'unknown Beam patch {unknown[0]!r}; known: {", ".join(ALL)}')


def enable(*names):
  """Switches the named patches on in this process (idempotent).

  Returns the names that are on afterwards. A patch written for other Beam versions stays
  off, with one warning per process naming the patch and the versions it was written for.
  Raises ValueError for an unknown name.
  """
  _check_names(names)
  running = beam_minor_version()
  with _LOCK:
    for name in names:
      if name in _enabled or name in _refused:
        continue
      patch = PATCHES[name]
      if running not in patch.beam_versions:
        _refused.add(name)
        _LOG.warning('Beam patch %s left off: it was written for Beam %s, this is Beam %s '
                     '(the suite runs unpatched; see beam_pipelines.transforms.beam_patches)', name,
                     '/'.join(patch.beam_versions), apache_beam.__version__)
        continue
      importlib.import_module(patch.module).apply()
      _enabled.add(name)
    return tuple(n for n in names if n in _enabled)


def ensure(names):
  """``enable(*names)`` for a DoFn's ``setup``: ``names`` is what ``enabled()`` returned
  when the transform was constructed (empty: nothing to do)."""
  if names:
    enable(*names)


def enabled():
  """The patches switched on in this process, as a frozenset (picklable, for DoFns)."""
  with _LOCK:
    return frozenset(_enabled)


def is_enabled(name):
  _check_names((name,))
  return name in _enabled
