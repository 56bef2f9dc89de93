"""Input patterns must match a file before a pipeline starts.

A pattern that matches nothing used to fail the run minutes later with Beam's 92-line
``BeamIOError: Empty match for pattern ...`` traceback that never named the option. Here it
is a ConfigError naming the option (one line, exit code 2) before anything is built.

Local patterns are always checked. Remote ones (``gs://``...) are listed through Beam's
FileSystems, the way the run itself would list them, except in a Dataflow dry run
(``--dry_run``: no network by design). A listing that fails for another reason than "no such
file" (no credentials here, no network) is logged and left to the run, which has the same
access the check had, or better (Dataflow's workers).
"""

import logging
import os

from apache_beam.options.pipeline_options import TestOptions

from beam_pipelines.options.values import ConfigError

_LOG = logging.getLogger(__name__)


def is_remote(pattern):
  return '://' in pattern and not pattern.startswith('file://')


def _matches(pattern):
  """What the run's own file matching (Beam's FileSystems) finds: files, not folders."""
  from apache_beam.io.filesystems import FileSystems
  found = FileSystems.match([pattern])[0].metadata_list
  if is_remote(pattern):
    return found
  return [m for m in found if os.path.isfile(m.path)]


def check_inputs(options, patterns):
  """ConfigError naming the option of the first pattern that matches no file.

  ``patterns``: [(option name, pattern)]; a None pattern is skipped (the option is unset)."""
  dry_run = bool(options.view_as(TestOptions).dry_run)
  for name, pattern in patterns:
    if not pattern:
      continue
    if not is_remote(pattern):
      if not _matches(pattern):
        raise ConfigError(f'--{name}: no file matches {pattern!r}'
                          + ('' if os.path.isabs(pattern) else
                             f' (relative to {os.getcwd()})'))
      continue
    if dry_run:
      continue
    try:
      matched = _matches(pattern)
    except Exception as e:  # pylint: disable=broad-except
      first = (str(e).strip().splitlines() or [type(e).__name__])[0]
      _LOG.warning('--%s: could not list %s before starting (%s); the run will try',
                   name, pattern, first[:200])
      continue
    if not matched:
      raise ConfigError(f'--{name}: no file matches {pattern!r}')
