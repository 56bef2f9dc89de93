"""``python -m beam_pipelines COMMAND ...``: the ``beam-pipelines`` console command."""

import sys

from beam_pipelines.commands import main

if __name__ == '__main__':
  sys.exit(main())
