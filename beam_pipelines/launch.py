"""Deprecated alias of ``beam_pipelines.tools.launch`` (moved in 0.2, goes in the next release).

``python -m beam_pipelines.launch`` still works and warns once.
"""

import sys
import warnings

from beam_pipelines.tools.launch import *  # noqa: F401,F403
from beam_pipelines.tools.launch import main

warnings.warn('beam_pipelines.launch moved to beam_pipelines.tools.launch; the old name goes '
              'in the next release', DeprecationWarning,
              stacklevel=1 if __name__ == '__main__' else 2)

if __name__ == '__main__':
  sys.exit(main())
