"""Local batch runs of a big input use every core.

The FnApiRunner (our default local runner) runs everything in one Python process unless
told ``--direct_num_workers N --direct_running_mode multi_processing``; then each stage's
input is dealt out to N worker processes. Parsing and validating is CPU-bound Python, so one
process uses one core. For inputs large enough to repay starting the workers (each imports
Beam, ~2-3 s of CPU), ``files_to_bigquery`` turns that on by itself:

* only on the FnApiRunner, and only when neither ``--direct_num_workers`` nor
  ``--direct_running_mode`` was given (``--direct_num_workers 1`` keeps one process);
* only for a local input pattern (a ``gs://`` pattern is matched at run time, and runs on
  Dataflow anyway) totalling at least ``AUTO_PARALLEL_MIN_BYTES``;
* with as many workers as there are cores, at most ``MAX_AUTO_WORKERS`` and at most the
  number of read units (ranges of big JSONL files, see ``beam_pipelines.transforms.read.file_splits``, or whole
  files): more workers than units would have nothing to read.

Outputs are the same as a one-process run (rows, dead letters with their source ids,
aggregates); only the order of lines within the output files can differ.
"""

import glob
import logging
import math
import os
import sys

from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

from beam_pipelines.transforms.read.file_splits import is_splittable

# Below this, worker start-up (~2-3 s of imports per worker) costs more than it saves.
AUTO_PARALLEL_MIN_BYTES = 64 << 20
MAX_AUTO_WORKERS = 8
_USER_FLAGS = ('--direct_num_workers', '--direct_running_mode')


def _given(argv, flag):
  return any(a == flag or a.startswith(flag + '=') for a in argv)


def read_units(pattern, file_format, split_bytes):
  """(total bytes, number of separately readable units) of a local pattern's files."""
  total = units = 0
  for path in glob.glob(pattern, recursive=True):
    if not os.path.isfile(path):
      continue
    size = os.path.getsize(path)
    total += size
    if split_bytes and is_splittable(path, file_format) and size > split_bytes:
      units += math.ceil(size / split_bytes)
    else:
      units += 1
  return total, units


def auto_workers(argv, runner, source, cpu_count=None):
  """The number of local worker processes to use, or None to stay in one process."""
  if runner != 'FnApiRunner' or any(_given(argv, flag) for flag in _USER_FLAGS):
    return None
  if '://' in source.pattern:
    return None
  total, units = read_units(source.pattern, source.format, source.split_bytes)
  if total < AUTO_PARALLEL_MIN_BYTES:
    return None
  workers = min(cpu_count or os.cpu_count() or 1, MAX_AUTO_WORKERS, units)
  return workers if workers >= 2 else None


# glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB), so
# after the first few of Beam's 10 MiB data-plane buffers, later ones come from the heap and
# fragment it: measured, the 1M-event benchmark peaked at 1327 MiB over its three processes,
# 1079 MiB with the threshold fixed at 1 MiB (same speed). A fixed threshold keeps big
# buffers in mmap, returned to the system when freed.
MMAP_THRESHOLD_BYTES = 1 << 20
_M_MMAP_THRESHOLD = -3  # mallopt parameter number, glibc malloc.h


def keep_big_buffers_out_of_the_heap():
  """Fixes glibc's mmap threshold for this process (mallopt) and, through the environment,
  for the worker processes it starts. A user's own MALLOC_MMAP_THRESHOLD_ wins; a no-op
  where the C library is not glibc."""
  if 'MALLOC_MMAP_THRESHOLD_' in os.environ:
    return
  os.environ['MALLOC_MMAP_THRESHOLD_'] = str(MMAP_THRESHOLD_BYTES)
  try:
    import ctypes
    ctypes.CDLL('libc.so.6').mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
  except (OSError, AttributeError):
    pass


class _QuietWorkerStartup:
  """Drops the one warning every Beam worker process logs at start-up ("No
  semi_persistent_directory found", about registries this suite does not use), which the
  FnApiRunner forwards to the console once per worker; everything else passes."""

  def filter(self, record):
    return 'No semi_persistent_directory found' not in record.getMessage()


def use_local_cores(options, argv, source, cpu_count=None):
  """Sets the worker options on ``options`` when ``auto_workers`` says so; returns N or None."""
  workers = auto_workers(argv, options.view_as(StandardOptions).runner, source, cpu_count)
  if workers:
    direct = options.view_as(DirectOptions)
    direct.direct_num_workers = workers
    direct.direct_running_mode = 'multi_processing'
    keep_big_buffers_out_of_the_heap()
    worker_logs = logging.getLogger('apache_beam.runners.portability.local_job_service')
    if not any(isinstance(f, _QuietWorkerStartup) for f in worker_logs.filters):
      worker_logs.addFilter(_QuietWorkerStartup())
    print(f'large local input ({source.pattern}): running on {workers} worker processes '
          '(--direct_num_workers 1 keeps one process)', file=sys.stderr)
  return workers
