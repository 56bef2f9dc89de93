"""Baseline (c): the benchmark's work in plain single-process Python, the practical limit.

Same work as the suite: parse JSON, validate against the BigQuery schema (types, modes,
nested records), HMAC-SHA256 two PII fields (user.email, user.phone), enrich country_code ->
region from a CSV, count per (event_type, 60 s event-time window), write rows as JSONL and
the window counts as JSON. Bad records are written to a dead-letter JSONL file.

    python bench/baseline_python.py --input IN.jsonl --schema S.json --lookup L.csv --out DIR
"""

import argparse
import base64
import binascii
import csv
import datetime
import decimal
import hashlib
import hmac
import json
import os
import re

KEY = b'benchmark-key-not-secret'
_TS = re.compile(r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$')
_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}$')


def check_value(ftype, value):
  """A competent hand-written type check per BigQuery type; raises ValueError."""
  if ftype == 'STRING' or ftype == 'GEOGRAPHY':
    if not isinstance(value, str):
      raise ValueError('not a string')
  elif ftype in ('INTEGER', 'INT64'):
    if isinstance(value, bool) or not isinstance(value, int) or not -2**63 <= value < 2**63:
      raise ValueError('not an int64')
  elif ftype in ('FLOAT', 'FLOAT64'):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise ValueError('not a float')
  elif ftype == 'NUMERIC':
    number = decimal.Decimal(str(value))
    if number.as_tuple().exponent < -9 or abs(number) >= 10 ** 29:
      raise ValueError('numeric out of range')
  elif ftype in ('BOOLEAN', 'BOOL'):
    if not isinstance(value, bool):
      raise ValueError('not a bool')
  elif ftype == 'TIMESTAMP':
    if not isinstance(value, str) or not _TS.match(value):
      raise ValueError('bad timestamp')
  elif ftype == 'DATE':
    if not isinstance(value, str) or not _DATE.match(value):
      raise ValueError('bad date')
    datetime.date.fromisoformat(value)
  elif ftype == 'BYTES':
    base64.b64decode(value, validate=True)
  elif ftype in ('TIME', 'DATETIME'):
    if not isinstance(value, str):
      raise ValueError('bad time')
  elif ftype == 'JSON':
    value = json.dumps(value)
  return value


def validate(record, fields):
  if not isinstance(record, dict):
    raise ValueError('not an object')
  out = {}
  for field in fields:
    name, ftype, mode = field['name'], field['type'], field.get('mode', 'NULLABLE')
    value = record.get(name)
    if value is None:
      if mode == 'REQUIRED':
        raise ValueError(f'missing {name}')
      continue
    if mode == 'REPEATED':
      if not isinstance(value, list):
        raise ValueError(f'{name} not a list')
      if ftype == 'RECORD':
        out[name] = [validate(v, field['fields']) for v in value]
      else:
        out[name] = [check_value(ftype, v) for v in value]
    elif ftype == 'RECORD':
      out[name] = validate(value, field['fields'])
    else:
      out[name] = check_value(ftype, value)
  return out


def pseudonym(value):
  return hmac.new(KEY, value.encode('utf-8'), hashlib.sha256).hexdigest()


def main(argv=None):
  parser = argparse.ArgumentParser()
  for name in ('input', 'schema', 'lookup', 'out'):
    parser.add_argument('--' + name, required=True)
  args = parser.parse_args(argv)
  with open(args.schema, encoding='utf-8') as f:
    fields = json.load(f)
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
        row = validate(json.loads(line), fields)
      except (ValueError, TypeError, KeyError, decimal.InvalidOperation, binascii.Error) as e:
        bad += 1
        dead_out.write(json.dumps({'sourceId': f'{args.input}:{line_number}',
                                   'errorMessage': str(e)}) + '\n')
        continue
      user = row['user']
      for field in ('email', 'phone'):
        if user.get(field) is not None:
          user[field] = pseudonym(user[field])
      enrich_count_write(row, regions, counts, rows_out)
      good += 1
  finish(args.out, counts, good, bad)


def enrich_count_write(row, regions, counts, rows_out):
  """The steps after masking: enrich, count per (event_type, 60 s window), write the row."""
  row['region'] = regions.get(row.get('country_code'))
  moment = datetime.datetime.fromisoformat(row['event_time'].replace('Z', '+00:00'))
  window = int(moment.timestamp()) // 60 * 60
  key = (row['event_type'], window)
  counts[key] = counts.get(key, 0) + 1
  rows_out.write(json.dumps(row) + '\n')


def finish(out, counts, good, bad):
  """Writes the window counts and prints what the harness reads."""
  with open(os.path.join(out, 'window_counts.json'), 'w', encoding='utf-8') as f:
    json.dump([{'event_type': k[0], 'window_start': k[1], 'count': v}
               for k, v in sorted(counts.items())], f)
  print(json.dumps({'rows': good, 'dead_letters': bad, 'windows': len(counts)}))


if __name__ == '__main__':
  main()
