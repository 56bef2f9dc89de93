"""How the user called a command, for usage lines: ``beam-pipelines <command>`` (the console
command sets ``BEAM_PIPELINES_PROG`` for the module it runs) or ``python -m <module>``."""

import os

CONSOLE_PROG_ENV = 'BEAM_PIPELINES_PROG'


def prog_name(module):
  """``beam-pipelines <command>`` when run by the console command, else ``python -m module``."""
  return os.environ.get(CONSOLE_PROG_ENV) or f'python -m {module}'
