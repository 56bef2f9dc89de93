"""The suite's Beam YAML provider file: where it is.

    python -m beam_pipelines.yaml_provider --print-path

prints the path of ``provider.yaml`` (installed with the package), for a YAML pipeline's
``providers: [{include: <path>}]``.
"""

import argparse
import sys

from beam_pipelines.transforms.beam_yaml import provider_path


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='python -m beam_pipelines.yaml_provider',
      description="The suite's Beam YAML provider file (for providers: [{include: PATH}]).")
  parser.add_argument('--print-path', action='store_true',
                      help='print the path of provider.yaml and exit')
  args = parser.parse_args(argv)
  if not args.print_path:
    parser.print_help()
    return 2
  print(provider_path())
  return 0


if __name__ == '__main__':
  sys.exit(main())
