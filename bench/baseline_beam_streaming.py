"""Streaming baseline: the streaming benchmark's work as a Beam user would write it.

Idiomatic Beam, one step per concern, on the same runner as the suite (the Python
DirectRunner in streaming mode): ReadFromPubSub -> parse + validate (bad records to a tagged
output; baseline_python's checks) -> mask (HMAC of user.email, user.phone) -> enrich with an
AsDict side input -> WriteToBigQuery (streaming inserts) for the rows; and timestamp by
event_time -> FixedWindows(60) -> count per event_type -> WriteToBigQuery for the counts.
No de-duplication (Beam's DeduplicatePerKey halves this pipeline's rate; the issue's numbers
say so), no dead-letter table, no masking of dead letters, no counters of its own: less work
than the suite does.

    python bench/baseline_beam_streaming.py --input_subscription projects/P/subscriptions/S \
        --schema S.json --lookup L.csv --output_table P:dataset.table --project P

The harness (bench/streaming_latency.py --programs idiomatic) runs it against the emulators;
for that, and only for that, it switches on the same runner fixes the suite's streaming
pipelines run with (``beam_pipelines.transforms.beam_patches``: Beam's BigQuery client
pointed at the emulator, the DirectRunner's Pub/Sub pull), which a user testing against the
emulators would need too.
"""

import argparse
import csv
import json
import os
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baseline_beam  # noqa: E402  pylint: disable=wrong-import-position

COUNTS_SCHEMA = 'event_type:STRING,window_start:TIMESTAMP,count:INTEGER'


def to_table_row(row):
  """JSON columns as text, as streaming inserts want them."""
  return dict(row, properties=json.dumps(row.get('properties'))
              if row.get('properties') is not None else None)


class FormatCount(beam.DoFn):
  def process(self, element, window=beam.DoFn.WindowParam):
    event_type, count = element
    yield {'event_type': event_type, 'window_start': window.start.to_utc_datetime().isoformat(),
           'count': count}


def main(argv=None):
  parser = argparse.ArgumentParser()
  for name in ('input_subscription', 'schema', 'lookup', 'output_table'):
    parser.add_argument('--' + name, required=True)
  parser.add_argument('--emulators', action='store_true',
                      help='switch on the runner fixes for the local emulators')
  args, beam_args = parser.parse_known_args(argv)
  if args.emulators:
    from beam_pipelines.transforms import beam_patches  # pylint: disable=import-outside-toplevel
    beam_patches.enable('bigquery_emulator', 'direct_runner_pubsub_pull')
  with open(args.schema, encoding='utf-8') as f:
    fields = json.load(f)
  with open(args.lookup, encoding='utf-8') as f:
    lookup = [(row['country_code'], row['region']) for row in csv.DictReader(f)]
  table_schema = {'fields': fields + [{'name': 'region', 'type': 'STRING',
                                       'mode': 'NULLABLE'}]}
  options = PipelineOptions(beam_args)
  options.view_as(StandardOptions).streaming = True
  with beam.Pipeline(options=options) as p:
    regions = p | 'Lookup' >> beam.Create(lookup)
    parsed = (p | 'Read' >> beam.io.ReadFromPubSub(subscription=args.input_subscription)
              | 'Validate' >> beam.ParDo(baseline_beam.ValidateFn(fields)).with_outputs(
                  'dead', main='rows'))
    rows = (parsed.rows
            | 'Mask' >> beam.Map(baseline_beam.mask)
            | 'Enrich' >> beam.Map(baseline_beam.enrich, regions=beam.pvalue.AsDict(regions)))
    _ = (rows | 'ToTableRow' >> beam.Map(to_table_row)
         | 'WriteRows' >> beam.io.WriteToBigQuery(
             args.output_table, schema=table_schema,
             method=beam.io.WriteToBigQuery.Method.STREAMING_INSERTS,
             create_disposition=beam.io.BigQueryDisposition.CREATE_IF_NEEDED,
             write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND))
    _ = (rows
         | 'Timestamp' >> beam.Map(baseline_beam.with_event_time)
         | 'Window' >> beam.WindowInto(beam.window.FixedWindows(60))
         | 'Key' >> beam.Map(lambda r: (r['event_type'], 1))
         | 'Count' >> beam.CombinePerKey(sum)
         | 'FormatCounts' >> beam.ParDo(FormatCount())
         | 'WriteCounts' >> beam.io.WriteToBigQuery(
             args.output_table + '_counts', schema=COUNTS_SCHEMA,
             method=beam.io.WriteToBigQuery.Method.STREAMING_INSERTS,
             create_disposition=beam.io.BigQueryDisposition.CREATE_IF_NEEDED,
             write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND))


if __name__ == '__main__':
  main()
