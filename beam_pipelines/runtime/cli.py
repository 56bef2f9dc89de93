"""What every pipeline's ``run()`` does before it builds anything: argv -> options and the
validated config, a named runner, the emulator's project, and the Beam patches it runs with.

A ConfigError becomes one line on stderr and exit code 2 before any pipeline is built; one
raised while the graph is built (``option_errors_while_building``) too.
"""

import contextlib
import logging
import sys

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from beam_pipelines.options.values import ConfigError
from beam_pipelines.transforms import beam_patches
from beam_pipelines.transforms.core.bigquery_client import emulator_host, emulator_project

# The Beam patches the pipelines switch on (beam_pipelines.transforms.beam_patches says what each does).
BATCH_PATCHES = ('global_window', 'bigquery_emulator', 'bigquery_retry_budget')
STREAMING_PATCHES = BATCH_PATCHES + ('direct_runner_pubsub_pull', 'direct_runner_metrics',
                                     'direct_runner_signatures')


def options_and_config(argv, prog, runner, to_config, streaming=False):
  """argv -> (PipelineOptions, config) for a pipeline's ``run()``.

  Names a runner when argv does not, adds emulator defaults, switches the pipeline's Beam
  patches on, and turns a ConfigError into one line on stderr and exit code 2.
  """
  argv = list(sys.argv[1:] if argv is None else argv)
  argv += default_runner(argv, runner) + emulator_defaults(argv)
  options = PipelineOptions(argv)
  if streaming:
    options.view_as(StandardOptions).streaming = True
  try:
    config = to_config(options)
  except ConfigError as e:
    print(f'{prog}: error: {e}', file=sys.stderr)
    raise SystemExit(2) from None
  beam_patches.enable(*(STREAMING_PATCHES if streaming else BATCH_PATCHES))
  return options, config


@contextlib.contextmanager
def option_errors_while_building(prog):
  """Around building the graph (never around running it): a ConfigError, or a ValueError a
  transform raises when its configuration cannot work, becomes one line on stderr and exit
  code 2, as option errors found earlier do. The config layer finds option errors before
  this (tests/e2e/test_config_errors.py runs every option through a table of bad values);
  this is the net for what it misses, so a user never gets a traceback for a bad option."""
  try:
    yield
  except ValueError as e:
    logging.getLogger(__name__).debug('error while building the pipeline', exc_info=True)
    message = str(e).splitlines()[0] if str(e) else type(e).__name__
    print(f'{prog}: error: {message}', file=sys.stderr)
    raise SystemExit(2) from None


def emulator_defaults(argv):
  """Extra argv for runs against the emulator: a project when none is given."""
  if emulator_host() and not any(a == '--project' or a.startswith('--project=')
                                 for a in argv):
    return ['--project', emulator_project()]
  return []


def default_runner(argv, runner):
  """Names a runner explicitly when the user did not: the bare DirectRunner first tries to
  download Prism, which fails offline after a delay."""
  if any(a == '--runner' or a.startswith('--runner=') for a in argv):
    return []
  return ['--runner', runner]
