"""Deprecated alias of ``beam_pipelines.tools.demo`` (moved in 0.2, goes in the next release).

``python -m beam_pipelines.demo`` still works and warns once.
"""

import sys
import warnings

from beam_pipelines.tools.demo import *  # noqa: F401,F403
from beam_pipelines.tools.demo import main

warnings.warn('beam_pipelines.demo moved to beam_pipelines.tools.demo; the old name goes '
              'in the next release', DeprecationWarning,
              stacklevel=1 if __name__ == '__main__' else 2)

if __name__ == '__main__':
  sys.exit(main())
