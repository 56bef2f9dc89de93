"""Patch ``global_window``: a per-element cost in Beam itself removed, with identical results.

``GlobalWindow()`` is a singleton, but its ``__init__`` re-reads the global window's end from
a protobuf constant (``common_urns.constants...``, then ``int()`` of its text) on every call,
and Beam calls it for every element it puts in the global window (``GlobalWindows.assign``,
``GlobalWindows.windowed_value``: the ``WindowInto(GlobalWindows())`` of every file write
does it per row). Profiled at ~5% of a batch run of ``files_to_bigquery`` (BENCHMARKS.md).
``apply()`` memoises that constant; the value is the same ``Timestamp`` every time.

Switched on by ``beam_pipelines.transforms.beam_patches.enable('global_window')``; ``ParseAndValidate``
re-applies it in worker processes of a pipeline built with it on. Idempotent.
"""

from apache_beam.transforms import window

_applied = False


def apply():
  global _applied
  if _applied:
    return
  end = window.GlobalWindow._getTimestampFromProto()  # pylint: disable=protected-access
  window.GlobalWindow._getTimestampFromProto = staticmethod(lambda: end)  # pylint: disable=protected-access
  _applied = True
