"""The data files of a lake sink's committed, live runs: what a reader should read.

    beam-pipelines lake-files gs://lake/events                  # rows files, one a line
    beam-pipelines lake-files /lake/events --role dead_letters
    beam-pipelines lake-files /lake/events --json               # {"rows": [...], ...}

A glob over the folder also sees killed, failed and superseded runs; these are the files the
manifests in ``<output_path>/_loads`` commit (docs/guarantees.md, the lake sink section).
"""

import argparse
import json

from beam_pipelines.runtime.prog import prog_name
from beam_pipelines.transforms.loads.lake_manifest import ROLES, committed_outputs


def main(argv=None):
  parser = argparse.ArgumentParser(prog=prog_name('beam_pipelines.tools.lake_files'),
                                   description=__doc__.splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog='\n'.join(__doc__.splitlines()[2:5]))
  parser.add_argument('output_path', help='the --output_path of the runs')
  parser.add_argument('--role', default='rows', choices=ROLES,
                      help='which files: rows (default), dead_letters or aggregates')
  parser.add_argument('--json', action='store_true',
                      help='print every role\'s files as one JSON object (one reading)')
  args = parser.parse_args(argv)
  outputs = committed_outputs(args.output_path)
  if args.json:
    print(json.dumps(outputs, indent=1))
  else:
    for path in outputs[args.role]:
      print(path)
  return 0


if __name__ == '__main__':
  raise SystemExit(main())
