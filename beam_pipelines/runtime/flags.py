"""Checking a pipeline's argv before Beam sees it.

Beam's ``PipelineOptions`` keeps flags it does not know and only logs a warning, so a typo
(``--output_fromat avro``) used to run with the default. Here every ``--flag`` must be one
of the pipeline's own options (its ``OPTIONS_CLASSES``, plus the flags of other classes it
reads, plus run-control flags such as ``--duration``) or one of Beam's own options (the
``PipelineOptions`` classes defined in ``apache_beam``); anything else is a ``FlagError``
naming the flag and the closest known option.

``normalize`` also rewrites ``--flag value`` as ``--flag=value`` for every flag that takes a
value, so a value starting with ``-`` (``--window_size -5s``) reaches the option's own
check, which names it, instead of argparse's 18-line usage message. The word after a flag
is its value unless it is itself a known flag (then the value is missing).
"""

import argparse
import difflib


class FlagError(ValueError):
  """An unknown flag, a flag without its value, or a stray argument; one line."""


def beam_option_classes():
  """Beam's own options classes (runner, project, temp_location, workers, experiments...)."""
  from apache_beam.options.pipeline_options import PipelineOptions
  return [c for c in PipelineOptions.__subclasses__()
          if c.__module__.split('.')[0] == 'apache_beam']


def _beam_parser():
  from apache_beam.options.pipeline_options import _BeamArgumentParser
  return _BeamArgumentParser(allow_abbrev=False, add_help=False)


def option_actions(classes):
  """{'--flag': argparse action} of the flags ``classes`` define."""
  parser = _beam_parser()
  for cls in classes:
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  return {s: a for a in parser._actions for s in a.option_strings}  # pylint: disable=protected-access


def flags_of(classes, only=None):
  """{'--flag': action} of ``classes``, or of the names in ``only`` among them."""
  actions = option_actions(classes)
  if only is None:
    return actions
  return {f: a for f, a in actions.items() if f[2:] in only}


def _takes_one_value(action):
  return action.nargs is None and not isinstance(
      action, (argparse._StoreConstAction, argparse._CountAction))  # pylint: disable=protected-access


def closest(flag, known):
  """The known flag most like ``flag`` (difflib), or None."""
  matches = difflib.get_close_matches(flag, sorted(known), n=1, cutoff=0.6)
  return matches[0] if matches else None


def normalize(argv, own, beam=None, elsewhere=()):
  """argv -> the same flags as ``--flag=value`` pairs; FlagError for anything unknown.

  ``own``: {'--flag': action} of the pipeline's options; ``beam``: Beam's (default: every
  options class of apache_beam); ``elsewhere``: flags of the suite's other pipelines (named
  as such when given here). Flags that take no value (``--streaming``) stay as they are, and
  so do flags whose value is optional (``--verbose``) when no value follows them;
  ``--`` ends the check (what follows is passed on as is).
  """
  beam = option_actions(beam_option_classes()) if beam is None else beam
  known = {**beam, **own}
  out = []
  i = 0
  while i < len(argv):
    arg = argv[i]
    if arg == '--':
      out.extend(argv[i:])
      break
    if not arg.startswith('-') or arg == '-':
      raise FlagError(f'unexpected argument {arg!r}: every value follows its --flag '
                      '(quote values that contain spaces)')
    flag, has_value, _ = arg.partition('=')
    action = known.get(flag)
    if action is None and flag in elsewhere:
      raise FlagError(f'{flag} is an option of another pipeline of the suite, not of this one')
    if action is None:
      hint = closest(flag, own) or closest(flag, known)
      raise FlagError(f'unknown option {flag}' + (f' (did you mean {hint}?)' if hint else '')
                      + ('' if flag.startswith('--') or hint else
                         ' (options are written --name)'))
    if not has_value and action.nargs == '?':  # --verbose, or --verbose false
      following = argv[i + 1] if i + 1 < len(argv) else None
      if following is not None and not following.startswith('-'):
        out.append(f'{flag}={following}')
        i += 2
        continue
    if has_value or not _takes_one_value(action):
      out.append(arg)
      i += 1
      continue
    if i + 1 >= len(argv) or argv[i + 1].partition('=')[0] in known:
      raise FlagError(f'{flag} needs a value')  # the next word is a flag, not its value
    out.append(f'{flag}={argv[i + 1]}')
    i += 2
  return out
