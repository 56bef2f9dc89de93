"""Deprecated alias of ``beam_pipelines.tools.emulators`` (moved in 0.2, goes in the next release).

``python -m beam_pipelines.local_emulators`` still works and warns once.
"""

import sys
import warnings

from beam_pipelines.tools.emulators import *  # noqa: F401,F403
from beam_pipelines.tools.emulators import main

warnings.warn('beam_pipelines.local_emulators moved to beam_pipelines.tools.emulators; the old name goes '
              'in the next release', DeprecationWarning,
              stacklevel=1 if __name__ == '__main__' else 2)

if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
