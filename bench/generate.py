"""Seeded benchmark input: N sample events as JSONL, ~2% of them bad in varied ways.

    python bench/generate.py --count 200000 --out bench/data/events_200k.jsonl

Reuses the sample generator so the benchmark exercises the same schema as the demo.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'samples'))
import generate_events  # noqa: E402  pylint: disable=wrong-import-position


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--count', type=int, required=True)
  parser.add_argument('--seed', type=int, default=8)
  parser.add_argument('--out', required=True)
  parser.add_argument('--spread', type=float, default=None,
                      help='seconds the events span (default: 7 s apart, the samples\' '
                           'spacing: weeks at 200k events); e.g. 3600: every event within '
                           'an hour, a few dozen 60 s windows per key (ordinary data)')
  args = parser.parse_args(argv)
  seconds_apart = 7 if args.spread is None else args.spread / max(args.count, 1)
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out, 'wb') as f:
    for line in generate_events.generate(args.count, args.seed, bad_every=50,
                                           seconds_apart=seconds_apart):
      f.write(line + b'\n')


if __name__ == '__main__':
  main()
