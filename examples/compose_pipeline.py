"""Compose the suite's transforms in a pipeline of your own (docs/compose.md).

    python examples/compose_pipeline.py --input samples/events.jsonl \
        --output /tmp/compose/events --masking_key_source env:MASKING_KEY

Lines -> validate -> mask -> enrich -> a step of your own (its errors join the dead letters)
-> per-minute aggregates -> files; the dead letters of every step, masked, -> files. With
``--table PROJECT:DATASET.TABLE`` the rows go to BigQuery instead (against the local
emulator: set BIGQUERY_EMULATOR_HOST; the script then switches the Beam patch on that aims
Beam's BigQuery clients at it).
"""

import argparse
import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.transforms import (AggregateConfig, BigQuerySinkConfig, DeadLetterSinkConfig,
                                       EnrichmentConfig, EnrichWithSideInput, FileLookupSource,
                                       LakeSinkConfig, MaskDeadLetters, MaskingKey, MaskPII,
                                       ParseAndValidate, ToDeadLetters, WindowAndAggregate,
                                       WindowConfig, WriteDeadLetters, WriteRowsToBigQuery,
                                       WriteRowsToFiles, aggregate_schema, beam_patches,
                                       enriched_schema, masked_schema)

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'samples')


def add_score(row):
  """A step of your own: the amount per item. It raises for rows with no items (quantity 0);
  ``with_exception_handling`` and ``ToDeadLetters`` turn those into dead letters."""
  return dict(row, amount=str(round(float(row['amount']) / row['quantity'], 2)))


def build(p, args):
  """The pipeline; returns the dead letters' PCollection (for tests)."""
  schema, policy = args.schema, args.masking_policy
  key = MaskingKey.load(args.masking_key_source)
  regions = EnrichmentConfig(source=FileLookupSource(args.regions), keys=('country_code',),
                             fields=('region',))
  rows_schema = enriched_schema(masked_schema(schema, policy), regions)

  # Lines as bytes: a line that is not valid UTF-8 becomes a dead letter, not a crash.
  lines = p | 'ReadLines' >> beam.io.ReadFromText(args.input, coder=beam.coders.BytesCoder())
  parsed = lines | 'Validate' >> ParseAndValidate(schema, with_source_ids=True)
  masked = parsed.rows | 'Mask' >> MaskPII(schema, policy, key)
  enriched = masked.rows | 'Enrich' >> EnrichWithSideInput(regions)
  scored, failed = enriched.rows | 'Score' >> beam.Map(add_score).with_exception_handling()
  minute_counts = AggregateConfig(key_fields=('event_type',), sum_fields=('quantity',))
  per_minute = scored | 'PerMinute' >> WindowAndAggregate(
      rows_schema, WindowConfig('fixed', size_seconds=60, event_time_field='event_time'),
      minute_counts)

  if args.table:
    failed_rows = scored | 'WriteRows' >> WriteRowsToBigQuery(
        rows_schema, BigQuerySinkConfig(args.table))
    dead_config = DeadLetterSinkConfig(table=args.table + '_error_records')
  else:
    failed_rows = scored | 'WriteRows' >> WriteRowsToFiles(
        rows_schema, LakeSinkConfig(args.output, format='jsonl'))
    dead_config = DeadLetterSinkConfig(kind='files', path=args.output + '_error_records')
  failed_aggregates = (
      per_minute.rows
      | 'Unwindow' >> beam.WindowInto(beam.window.GlobalWindows())
      | 'WriteAggregates' >> WriteRowsToFiles(
          aggregate_schema(rows_schema, minute_counts),
          LakeSinkConfig(args.output + '_per_minute', format='jsonl')))

  dead_letters = (
      (parsed.dead_letters, masked.dead_letters, enriched.dead_letters,
       failed | 'ScoringErrors' >> ToDeadLetters(stage='scoring'),
       per_minute.dead_letters, failed_rows, failed_aggregates)
      | 'AllDeadLetters' >> beam.Flatten()
      | 'MaskDeadLetters' >> MaskDeadLetters(schema, policy, key))
  _ = dead_letters | 'WriteDeadLetters' >> WriteDeadLetters(dead_config)
  return dead_letters


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--input', default=os.path.join(SAMPLES, 'events.jsonl'))
  parser.add_argument('--schema', default=os.path.join(SAMPLES, 'events_schema.json'))
  parser.add_argument('--masking_policy', default=os.path.join(SAMPLES, 'masking_policy.yaml'))
  parser.add_argument('--masking_key_source', required=True,
                      help='env:VARIABLE or file:PATH holding the masking key (16+ bytes)')
  parser.add_argument('--regions', default=os.path.join(SAMPLES, 'country_regions.csv'))
  parser.add_argument('--output', required=True, help='file prefix for rows and dead letters')
  parser.add_argument('--table', default=None, help='PROJECT:DATASET.TABLE for the rows')
  args, beam_args = parser.parse_known_args(argv)
  if os.environ.get('BIGQUERY_EMULATOR_HOST'):
    beam_patches.enable('bigquery_emulator')  # Beam's BigQuery IO -> the local emulator
  options = PipelineOptions(beam_args or ['--runner=FnApiRunner'],
                            pipeline_name='compose_example')
  with beam.Pipeline(options=options) as p:
    build(p, args)


if __name__ == '__main__':
  main()
