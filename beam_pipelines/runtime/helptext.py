"""``--help`` of a pipeline, made from its options classes (the single source of every flag's
meaning: templates/update_metadata.py copies the same text into each template's
metadata.json, and a test checks they agree).

One group per options class (its ``HELP_TITLE``: one concern), each flag with its default
and its one-line meaning, then the flags the pipeline reads from other classes and its
run-control flags, then a pointer to Beam's own options (``--help_beam`` lists them).
"""

import argparse
import textwrap

BEAM_OPTIONS_URL = ('https://beam.apache.org/documentation/programming-guide/'
                    '#configuring-pipeline-options')
HELP_FLAGS = ('-h', '--help')
BEAM_HELP_FLAG = '--help_beam'


class _Formatter(argparse.RawDescriptionHelpFormatter):
  """Shows a flag's default after its meaning when it has one; VALUE as every metavar."""

  def __init__(self, prog):
    super().__init__(prog, max_help_position=38, width=100)

  def _get_help_string(self, action):
    text = (action.help or '').replace('%', '%%')
    if (action.option_strings and action.nargs != 0
        and action.default not in (None, '', argparse.SUPPRESS)):
      text += ' (default: %(default)s)'
    return text

  def _get_default_metavar_for_optional(self, action):
    return 'VALUE'

  def _split_lines(self, text, width):
    # never split a path or URL at its hyphens (gs://my-bucket/...)
    return textwrap.wrap(' '.join(text.split()), width, break_on_hyphens=False,
                         break_long_words=False)


def title_of(cls):
  return getattr(cls, 'HELP_TITLE', None) or cls.__name__


def description(doc):
  """The user-facing start of a module docstring: its first two paragraphs (what it does,
  then the example command)."""
  paragraphs = (doc or '').strip().split('\n\n')
  return '\n\n'.join(paragraphs[:2])


def pipeline_help(cli, prog):
  """The --help text of the pipeline ``cli`` (a runtime.cli.PipelineCli)."""
  parser = argparse.ArgumentParser(
      prog=prog, usage=f'{prog} [options] [Beam pipeline options]',
      description=description(cli.doc), formatter_class=_Formatter, add_help=False,
      epilog=beam_pointer(cli.runner))
  general = parser.add_argument_group('help')
  general.add_argument('-h', '--help', action='store_true', help='Show this help and exit.')
  general.add_argument(BEAM_HELP_FLAG, action='store_true',
                       help="List Beam's own pipeline options and exit.")
  for cls in cli.options_classes:
    cls._add_argparse_args(parser.add_argument_group(title_of(cls)))  # pylint: disable=protected-access
  if cli.extra_flags:
    group = parser.add_argument_group(cli.extra_title)
    for name, text in cli.extra_flags.items():
      group.add_argument(f'--{name}', help=text)
  if cli.run_flags:
    group = parser.add_argument_group('Running')
    for name, metavar, text in cli.run_flags:
      group.add_argument(f'--{name}', metavar=metavar, help=text)
  return parser.format_help()


def beam_pointer(runner):
  return textwrap.fill(f"Beam's own pipeline options are accepted as well: --runner (default here: "
          f"{runner}; DataflowRunner runs on Dataflow), --project, --region, "
          '--temp_location, --direct_num_workers, --experiments, ... '
          f'{BEAM_HELP_FLAG} lists them all; see {BEAM_OPTIONS_URL}', width=100,
                       break_on_hyphens=False, break_long_words=False)


def beam_help(prog):
  """Beam's own pipeline options, one section per Beam options class."""
  from apache_beam.options.pipeline_options import _BeamArgumentParser

  from beam_pipelines.runtime.flags import beam_option_classes
  parts = [f"usage: {prog} [options] [Beam pipeline options]\n\nBeam's own pipeline options "
           f'({BEAM_OPTIONS_URL}):']
  for cls in beam_option_classes():
    parser = _BeamArgumentParser(prog=prog, usage=argparse.SUPPRESS, add_help=False,
                                 allow_abbrev=False)
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
    text = parser.format_help().strip()
    if not text:
      continue
    head, _, body = text.partition('\n')
    parts.append(f'{cls.__name__}:\n{body}' if head.endswith(':') else text)
  return '\n\n'.join(parts) + '\n'
