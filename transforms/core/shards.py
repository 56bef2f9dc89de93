"""How many keys a stateful step spreads its work over, by default, for the runner at hand.

The suite's stateful steps (Pub/Sub de-duplication, the late-data gate) key their elements
by a shard (``hash % shards``). On a distributed runner (Dataflow) more shards mean more
workers can share the step: 16. Beam's local DirectRunner runs each stateful step serially
and turns each key's elements into a bundle of their own, and every bundle pays the
runner's fixed per-bundle cost again in every later step: there, 2 shards sustained 424
rows/s at 500 msg/s where 16 sustained 330, and at 300 msg/s kept p99 at 0.66 s
(`make bench-streaming`, BENCHMARKS.md Round 4). The number of shards changes no output.
"""

DISTRIBUTED_SHARDS = 16
LOCAL_SHARDS = 2
_LOCAL_RUNNERS = ('DirectRunner', 'BundleBasedDirectRunner', 'SwitchingDirectRunner',
                  'FnApiRunner')


def runs_on_direct_runner(pipeline):
  """True when ``pipeline`` runs on one of Beam's in-process Python runners."""
  runner = getattr(pipeline, 'runner', None)
  return type(runner).__name__ in _LOCAL_RUNNERS


def stateful_shards(pipeline, shards=None):
  """``shards`` when given; else the default for ``pipeline``'s runner (see the module
  docstring)."""
  if shards is not None:
    return shards
  return LOCAL_SHARDS if runs_on_direct_runner(pipeline) else DISTRIBUTED_SHARDS


def check_shards(shards, name):
  """``shards``: None (by runner) or a positive int; ValueError naming ``name`` otherwise."""
  if shards is not None and (not isinstance(shards, int) or isinstance(shards, bool)
                             or shards < 1):
    raise ValueError(f'{name} must be a positive integer or None (by runner), got {shards!r}')
  return shards
