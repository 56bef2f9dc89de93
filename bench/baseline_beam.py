"""Baseline (b): the benchmark's work as a competent user would hand-write it in Beam.

Idiomatic Beam, one step per concern: ReadFromText -> parse -> validate (bad records to a
tagged output) -> mask (HMAC of user.email, user.phone) -> enrich with an AsDict side input ->
timestamp + FixedWindows(60) -> count per event_type -> WriteToText; rows and dead letters
written as JSONL. Same validation rules as baseline_python (imported, so the work is equal).

    python bench/baseline_beam.py --input IN.jsonl --schema S.json --lookup L.csv --out DIR
"""

import argparse
import csv
import datetime
import json
import os
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baseline_python as work  # noqa: E402  pylint: disable=wrong-import-position


class ValidateFn(beam.DoFn):
  def __init__(self, fields):
    self.fields = fields

  def process(self, line):
    try:
      yield work.validate(json.loads(line), self.fields)
    except Exception as e:  # pylint: disable=broad-except
      yield beam.pvalue.TaggedOutput('dead', json.dumps({
          'errorMessage': str(e), 'payload': line.decode('utf-8', 'replace')}))


def mask(row):
  user = dict(row['user'])
  for field in ('email', 'phone'):
    if user.get(field) is not None:
      user[field] = work.pseudonym(user[field])
  return dict(row, user=user)


def enrich(row, regions):
  return dict(row, region=regions.get(row.get('country_code')))


def with_event_time(row):
  moment = datetime.datetime.fromisoformat(row['event_time'].replace('Z', '+00:00'))
  return beam.window.TimestampedValue(row, moment.timestamp())


class FormatCount(beam.DoFn):
  def process(self, element, window=beam.DoFn.WindowParam):
    event_type, count = element
    yield json.dumps({'event_type': event_type, 'window_start': int(window.start),
                      'count': count})


def main(argv=None):
  parser = argparse.ArgumentParser()
  for name in ('input', 'schema', 'lookup', 'out'):
    parser.add_argument('--' + name, required=True)
  args, beam_args = parser.parse_known_args(argv)
  with open(args.schema, encoding='utf-8') as f:
    fields = json.load(f)
  with open(args.lookup, encoding='utf-8') as f:
    lookup = [(row['country_code'], row['region']) for row in csv.DictReader(f)]
  options = PipelineOptions(beam_args or ['--runner=FnApiRunner'])
  with beam.Pipeline(options=options) as p:
    regions = p | 'Lookup' >> beam.Create(lookup)
    parsed = (p | 'Read' >> beam.io.ReadFromText(
                  args.input, coder=beam.coders.BytesCoder())  # bytes: bad UTF-8 must not crash
              | 'Validate' >> beam.ParDo(ValidateFn(fields)).with_outputs('dead', main='rows'))
    rows = (parsed.rows
            | 'Mask' >> beam.Map(mask)
            | 'Enrich' >> beam.Map(enrich, regions=beam.pvalue.AsDict(regions)))
    _ = (rows | 'RowsToJson' >> beam.Map(json.dumps)
         | 'WriteRows' >> beam.io.WriteToText(os.path.join(args.out, 'rows'), '.jsonl'))
    _ = (rows
         | 'Timestamp' >> beam.Map(with_event_time)
         | 'Window' >> beam.WindowInto(beam.window.FixedWindows(60))
         | 'Key' >> beam.Map(lambda r: (r['event_type'], 1))
         | 'Count' >> beam.CombinePerKey(sum)
         | 'FormatCounts' >> beam.ParDo(FormatCount())
         | 'WriteCounts' >> beam.io.WriteToText(os.path.join(args.out, 'window_counts'),
                                                '.jsonl'))
    _ = parsed.dead | 'WriteDead' >> beam.io.WriteToText(
        os.path.join(args.out, 'dead_letters'), '.jsonl')


if __name__ == '__main__':
  main()
