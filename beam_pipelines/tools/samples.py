"""The sample data, example pipelines and template parameters the package ships.

    beam-pipelines samples --where          # where they are installed
    beam-pipelines samples my-dir           # copy them into my-dir/{samples,examples,templates}
    cd my-dir && python -m apache_beam.yaml.main --yaml_pipeline_file examples/pipeline.yaml ...

The copies keep the paths the examples and sample parameters use (``samples/events.jsonl``,
relative to the folder they run from).
"""

import argparse
import os
import sys

from beam_pipelines import resources
from beam_pipelines.runtime.prog import prog_name


def main(argv=None):
  parser = argparse.ArgumentParser(prog=prog_name('beam_pipelines.tools.samples'),
                                   description=__doc__.splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog='\n'.join(__doc__.splitlines()[2:6]))
  parser.add_argument('dest', nargs='?', help='folder to copy the samples into')
  parser.add_argument('--where', action='store_true',
                      help='print the folders the samples, examples and templates are '
                           'installed in')
  args = parser.parse_args(argv)
  if not args.where and not args.dest:
    parser.error('give a folder to copy into, or --where')
  if args.where:
    for name, folder in (('samples', resources.samples_dir()),
                         ('examples', resources.examples_dir()),
                         ('templates', resources.templates_dir())):
      print(f'{name:<10} {folder}')
    return 0
  written = resources.copy_samples(args.dest)
  print(f'copied {len(written)} files into {os.path.abspath(args.dest)} '
        '(samples/, examples/, templates/<template>/sample_parameters.json)')
  return 0


if __name__ == '__main__':
  sys.exit(main())
