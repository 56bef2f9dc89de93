"""What every pipeline's ``run()`` does before it builds anything: ``--help``, argv checks
(unknown flags, values), argv -> options and the validated config, the inputs exist, a named
runner, the emulator's project, and the Beam patches it runs with.

A bad flag or value becomes one line on stderr and exit code 2 before any pipeline is built;
one raised while the graph is built (``option_errors_while_building``) too.
"""

import contextlib
import logging
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from beam_pipelines.options.values import ConfigError
from beam_pipelines.runtime import flags, helptext, inputs
from beam_pipelines.runtime.prog import prog_name
from beam_pipelines.transforms import beam_patches
from beam_pipelines.transforms.core.bigquery_client import emulator_host, emulator_project

# The Beam patches the pipelines switch on (beam_pipelines.transforms.beam_patches says what each does).
BATCH_PATCHES = ('global_window', 'bigquery_emulator', 'bigquery_retry_budget',
                 'bigquery_row_size')
STREAMING_PATCHES = BATCH_PATCHES + ('direct_runner_pubsub_pull', 'direct_runner_metrics',
                                     'direct_runner_signatures')


@dataclass(frozen=True)
class PipelineCli:
  """A runnable pipeline's command line: what --help shows and what argv may hold.

  ``options_classes``: its options, one class a concern (the template documents exactly
  these); ``extra_flags``: {name: meaning} of flags it reads from other classes;
  ``run_flags``: (name, metavar, meaning) of flags its ``run()`` takes out of argv itself;
  ``inputs``: config -> [(option name, file pattern)] that must match a file.
  """
  name: str
  doc: str
  options_classes: tuple
  runner: str
  extra_flags: dict = field(default_factory=dict)
  extra_title: str = 'Shared options'
  run_flags: tuple = ()
  inputs: Optional[Callable] = None

  def own_flags(self):
    """{'--flag': action} of every flag this pipeline reads (Beam's aside)."""
    own = flags.flags_of(self.options_classes)
    if self.extra_flags:
      own.update(flags.flags_of(suite_options_classes(), only=self.extra_flags))
    return own


def suite_options_classes():
  """Every options class of the suite's pipelines (beam_pipelines.options)."""
  from beam_pipelines import options
  from beam_pipelines.options.replay import ReplayOptions
  return [getattr(options, n) for n in options.__all__ if n.endswith('Options')] + [
      ReplayOptions]


def fail(prog, message):
  """One line on stderr, exit code 2."""
  print(f'{prog}: error: {message}', file=sys.stderr)
  raise SystemExit(2)


def check_argv(argv, cli):
  """--help / --help_beam (print, exit 0), then argv as ``--flag=value`` pairs; exits 2
  naming an unknown flag (and the closest known option) or a flag without its value."""
  prog = prog_name(f'beam_pipelines.{cli.name}')
  if helptext.BEAM_HELP_FLAG in argv:
    print(helptext.beam_help(prog), end='')
    raise SystemExit(0)
  if any(a in helptext.HELP_FLAGS for a in argv):
    print(helptext.pipeline_help(cli, prog), end='')
    raise SystemExit(0)
  own = cli.own_flags()
  try:
    return flags.normalize(argv, own,
                           elsewhere=set(flags.flags_of(suite_options_classes())) - set(own))
  except flags.FlagError as e:
    fail(cli.name, str(e))


def options_and_config(argv, prog, runner, to_config, streaming=False, cli=None):
  """argv -> (PipelineOptions, config) for a pipeline's ``run()``.

  With ``cli`` (a PipelineCli): answers --help, refuses unknown flags and checks that the
  inputs exist first. Names a runner when argv does not, adds emulator defaults, switches
  the pipeline's Beam patches on, and turns a ConfigError into one line on stderr and exit
  code 2.
  """
  argv = list(sys.argv[1:] if argv is None else argv)
  if cli is not None:
    argv = check_argv(argv, cli)
  argv += default_runner(argv, runner) + emulator_defaults(argv)
  options = PipelineOptions(argv)
  if streaming:
    options.view_as(StandardOptions).streaming = True
  try:
    config = to_config(options)
    if cli is not None and cli.inputs is not None:
      inputs.check_inputs(options, cli.inputs(config))
  except ConfigError as e:
    fail(prog, str(e))
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
