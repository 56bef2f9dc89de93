"""Deprecated alias of ``beam_pipelines.tools.streaming_demo`` (moved in 0.2, goes in the next release).

``python -m beam_pipelines.streaming_demo`` still works and warns once.
"""

import sys
import warnings

from beam_pipelines.tools.streaming_demo import *  # noqa: F401,F403
from beam_pipelines.tools.streaming_demo import main

warnings.warn('beam_pipelines.streaming_demo moved to beam_pipelines.tools.streaming_demo; the old name goes '
              'in the next release', DeprecationWarning,
              stacklevel=1 if __name__ == '__main__' else 2)

if __name__ == '__main__':
  sys.exit(main())
