"""Where a py-spy profile's busy time goes: the share of samples whose innermost frame is in
Beam's runner, Beam's core, Beam's IO, the suite, client libraries, JSON, or elsewhere.

    python bench/profile_shares.py bench/results/profiles/streaming_500_after.txt.gz

Input: py-spy's raw (folded) output (``py-spy record --format raw``), plain or gzipped.
Samples whose innermost frame waits (``threading`` waits, ``queue``) are idle, left out.
"""

import collections
import gzip
import sys

_KINDS = (
    ('Beam runner', ('apache_beam/runners',)),
    ('Beam IO (Pub/Sub, BigQuery)', ('apache_beam/io',)),
    ('Beam core (transforms, coders, pickling)', ('apache_beam/',)),
    ('objsize (Beam\'s row-size check)', ('objsize',)),
    ('suite code', ('beam_pipelines', 'transforms/')),
    ('clients, HTTP, gRPC', ('grpc', 'google/', 'requests', 'urllib3', 'http', 'socket',
                             'ssl', 'api_core', 'auth')),
    ('json', ('json',)),
)


def kind_of(frame):
  where = frame.rsplit(' (', 1)[-1]
  if ('threading.py' in where and 'wait' in frame) or 'queue.py' in where:
    return None  # idle
  for kind, needles in _KINDS:
    if any(n in where for n in needles):
      return kind
  return 'other (stdlib, pickle, ...)'


def shares(lines):
  """{kind: share of busy samples}, busy samples, all samples."""
  total, counts = 0, collections.Counter()
  for line in lines:
    stack, _, count = line.rstrip().rpartition(' ')
    if not count.isdigit():
      continue
    total += int(count)
    counts[kind_of(stack.split(';')[-1])] += int(count)
  busy = total - counts.pop(None, 0)
  return {k: v / busy for k, v in counts.most_common()}, busy, total


def main(argv=None):
  for path in (sys.argv[1:] if argv is None else argv):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', encoding='utf-8') as f:
      found, busy, total = shares(f)
    print(f'{path}: {busy} busy of {total} samples')
    for kind, share in found.items():
      print(f'  {100 * share:5.1f}%  {kind}')


if __name__ == '__main__':
  main()
