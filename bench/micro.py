"""Per-element micro-benchmarks of the transforms' hot functions (µs/element), with the
plain-Python baseline's equivalents measured in the same run for scale.

    python bench/micro.py [--events 5000] [--repeat 5]      # or: make bench-micro

Not part of `make test`. Each line: the best (min) and median of --repeat timings of one pass
over the same seeded events (bench/generate.py's generator, ~2% bad records), per element.
The functions are the ones the pipeline's DoFns call (built the way their setup() builds
them), without Beam around them:
  decode_json            beam_pipelines.transforms.read.formats.jsonl.decode_json (orjson, stdlib fallback)
  validate               RecordValidator.validate on decoded objects
  decode+validate        both, i.e. the work of ParseAndValidate per record
  mask (bench policy)    the compiled row masker of bench/masking_policy.yaml (HMAC of two
                         fields, everything else kept)
  mask (sample policy)   the same for samples/masking_policy.yaml (every method in use)
  baseline: ...          bench/baseline_python.py's json.loads + validate, and its HMAC
"""

import argparse
import json
import os
import statistics
import sys
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'samples'))

import baseline_python  # noqa: E402  pylint: disable=wrong-import-position
import generate_events  # noqa: E402  pylint: disable=wrong-import-position

# noqa: E402 below: the imports need the sys.path entries above.
from beam_pipelines.transforms.masking.binding import bind_policy  # noqa: E402
from beam_pipelines.transforms.masking.keys import DerivedKeys, MaskingKey  # noqa: E402
from beam_pipelines.transforms.masking.maskers import compile_row_masker  # noqa: E402
from beam_pipelines.transforms.masking.policy import load_policy  # noqa: E402
from beam_pipelines.transforms.read.formats.jsonl import decode_json  # noqa: E402
from beam_pipelines.transforms.core.schema import load_schema  # noqa: E402
from beam_pipelines.transforms.validate.validator import RecordValidator  # noqa: E402

SCHEMA = os.path.join(ROOT, 'samples', 'events_schema.json')


def _masker(policy_path, schema):
  os.environ.setdefault('BENCH_MASKING_KEY', 'benchmark-key-not-secret')
  keys = DerivedKeys(MaskingKey.load('env:BENCH_MASKING_KEY'))
  return compile_row_masker(bind_policy(load_policy(policy_path), schema), keys)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--events', type=int, default=5000)
  parser.add_argument('--repeat', type=int, default=5)
  args = parser.parse_args(argv)
  lines = list(generate_events.generate(args.events, 8, bad_every=50))
  schema = load_schema(SCHEMA)
  with open(SCHEMA, encoding='utf-8') as f:
    fields = json.load(f)
  validator = RecordValidator(schema)
  objects = []
  for line in lines:
    try:
      objects.append(decode_json(line))
    except Exception:  # pylint: disable=broad-except
      pass  # undecodable lines count for decode_json only
  rows = [row for row, problems in map(validator.validate, objects) if not problems]
  bench_mask = _masker(os.path.join(HERE, 'masking_policy.yaml'), schema)
  sample_mask = _masker(os.path.join(ROOT, 'samples', 'masking_policy.yaml'), schema)
  emails = [r['user'].get('email') or '' for r in rows]

  def decode_all():
    for line in lines:
      try:
        decode_json(line)
      except Exception:  # pylint: disable=broad-except
        pass

  def validate_all():
    for obj in objects:
      validator.validate(obj)

  def decode_validate_all():
    for line in lines:
      try:
        validator.validate(decode_json(line))
      except Exception:  # pylint: disable=broad-except
        pass

  def baseline_validate_all():
    for line in lines:
      try:
        baseline_python.validate(json.loads(line), fields)
      except Exception:  # pylint: disable=broad-except
        pass

  cases = [
      ('decode_json', decode_all, len(lines)),
      ('validate', validate_all, len(objects)),
      ('decode+validate', decode_validate_all, len(lines)),
      ('baseline: json.loads+validate', baseline_validate_all, len(lines)),
      ('mask (bench policy: 2 x hmac)', lambda: [bench_mask(r) for r in rows], len(rows)),
      ('mask (samples policy)', lambda: [sample_mask(r) for r in rows], len(rows)),
      ('baseline: 2 x hmac', lambda: [(baseline_python.pseudonym(e),
                                       baseline_python.pseudonym(e)) for e in emails],
       len(emails)),
  ]
  results = {}
  print(f'{"case":36} {"best µs/el":>11} {"median µs/el":>13}   ({args.events} events, '
        f'{args.repeat} repeats)')
  for name, fn, count in cases:
    fn()  # warm up (memo tables, imports)
    times = timeit.repeat(fn, number=1, repeat=args.repeat)
    best, median = min(times) / count * 1e6, statistics.median(times) / count * 1e6
    results[name] = {'best_us': round(best, 2), 'median_us': round(median, 2)}
    print(f'{name:36} {best:11.2f} {median:13.2f}')
  return results


if __name__ == '__main__':
  main()
