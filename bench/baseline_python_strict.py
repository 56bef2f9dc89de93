"""Baseline (d): the benchmark's work in plain single-process Python, validating *the suite's
way*: the suite's own RecordValidator (every BigQuery type checked and rewritten as the suite
does: calendar dates, NUMERIC precision, WKT, ...) and the suite's own compiled masker with
the benchmark policy, then the same enrichment, window count and JSONL output as
baseline_python.py. No Beam: what is left between this program and the suite is the runner and
the suite's plumbing (source ids, counters, dead-letter records, batching), which is what the
"per CPU-second" target of the benchmark measures.

    python bench/baseline_python_strict.py --input IN.jsonl --schema S.json --lookup L.csv --out DIR
"""

import argparse
import csv
import json
import os
import sys

from beam_pipelines.transforms.masking.binding import bind_policy
from beam_pipelines.transforms.masking.keys import DerivedKeys, MaskingKey
from beam_pipelines.transforms.masking.maskers import compile_row_masker
from beam_pipelines.transforms.masking.policy import load_policy
from beam_pipelines.transforms.validate.validator import RecordValidator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baseline_python  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, 'masking_policy.yaml')
KEY = b'benchmark-key-not-secret'


def main(argv=None):
  parser = argparse.ArgumentParser()
  for name in ('input', 'schema', 'lookup', 'out'):
    parser.add_argument('--' + name, required=True)
  args = parser.parse_args(argv)
  validator = RecordValidator(args.schema)
  mask = compile_row_masker(bind_policy(load_policy(POLICY), validator.schema),
                            DerivedKeys(MaskingKey('env:BENCH_MASKING_KEY', KEY)))
  with open(args.lookup, encoding='utf-8') as f:
    regions = {row['country_code']: row['region'] for row in csv.DictReader(f)}
  os.makedirs(args.out, exist_ok=True)
  counts = {}
  good = bad = 0
  with open(args.input, 'rb') as src, \
      open(os.path.join(args.out, 'rows.jsonl'), 'w', encoding='utf-8') as rows_out, \
      open(os.path.join(args.out, 'dead_letters.jsonl'), 'w', encoding='utf-8') as dead_out:
    for line_number, line in enumerate(src, 1):
      try:
        obj = json.loads(line)
      except ValueError as e:
        obj, problems = None, str(e)
      else:
        obj, problems = validator.validate(obj)
      if obj is None:
        bad += 1
        dead_out.write(json.dumps({'sourceId': f'{args.input}:{line_number}',
                                   'errorMessage': str(problems)}) + '\n')
        continue
      baseline_python.enrich_count_write(mask(obj), regions, counts, rows_out)
      good += 1
  baseline_python.finish(args.out, counts, good, bad)


if __name__ == '__main__':
  main()
