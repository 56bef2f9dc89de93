"""Runs the library's core chain on the sample events, for tests/unit/test_beam_patches.py.

    python core_chain_script.py INPUT OUT_DIR [--patches]

Files in, every core transform (read, parse/validate, mask, enrich, window/aggregate, lake
files, dead letters to files) on the FnApiRunner with two worker processes, so patches would
have to reach workers too. Prints one JSON line: the patches on afterwards and whether
Beam's patched symbols are still Beam's own.
"""

import json
import os
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

import beam_pipelines.transforms as transforms
from beam_pipelines.transforms import beam_patches

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'samples')


def beam_symbols():
  from apache_beam.io.gcp import bigquery_tools
  from apache_beam.runners.direct import executor, transform_evaluator
  from apache_beam.transforms import window
  from apache_beam.typehints import decorators
  return {
      'global_window': window.GlobalWindow.__dict__['_getTimestampFromProto'].__func__.__module__,
      'bigquery_client': bigquery_tools.BigQueryWrapper.__dict__[
          '_bigquery_client'].__func__.__module__,
      'bigquery_wrapper_init': bigquery_tools.BigQueryWrapper.__init__.__module__,
      'pubsub_pull': transform_evaluator._PubSubReadEvaluator.__dict__[  # pylint: disable=protected-access
          '_get_subscriber_client'].__func__.__module__,
      'executor_call': executor.TransformExecutor.call.__module__,
      'get_signature': decorators.get_signature.__module__,
  }


def main(input_path, out, patches):
  if patches:
    beam_patches.enable(*beam_patches.ALL)
  os.environ.setdefault('CORE_CHAIN_MASKING_KEY', 'a-test-key-of-at-least-16-bytes')
  schema = transforms.load_schema(os.path.join(SAMPLES, 'events_schema.json'))
  policy = transforms.load_policy(os.path.join(SAMPLES, 'masking_policy.yaml'))
  enrichment = transforms.EnrichmentConfig(
      source=transforms.FileLookupSource(os.path.join(SAMPLES, 'country_regions.csv')),
      keys=('country_code',), fields=('region',))
  masked = transforms.masked_schema(schema, policy)
  enriched = transforms.enriched_schema(masked, enrichment)
  window = transforms.WindowConfig('fixed', size_seconds=60, event_time_field='event_time')
  per_minute = transforms.AggregateConfig(key_fields=('event_type',),
                                          sum_fields=('quantity',))
  options = PipelineOptions(runner='FnApiRunner', direct_num_workers=2,
                            direct_running_mode='multi_processing')
  with beam.Pipeline(options=options) as p:
    read = p | 'Read' >> transforms.ReadEvents(transforms.FileSourceConfig(input_path))
    parsed = read.rows | 'Parse' >> transforms.ParseAndValidate(schema)
    mask = parsed.rows | 'Mask' >> transforms.MaskPII(
        schema, policy, transforms.MaskingKey.load('env:CORE_CHAIN_MASKING_KEY'))
    enrich = mask.rows | 'Enrich' >> transforms.EnrichWithSideInput(enrichment)
    windowed = enrich.rows | 'Window' >> transforms.WindowAndAggregate(enriched, window,
                                                                       per_minute)
    failed_rows = enrich.rows | 'WriteRows' >> transforms.WriteRowsToFiles(
        enriched, transforms.LakeSinkConfig(os.path.join(out, 'rows'), format='jsonl'))
    failed_aggregates = (
        windowed.rows
        | 'Unwindow' >> beam.WindowInto(beam.window.GlobalWindows())
        | 'WriteAggregates' >> transforms.WriteRowsToFiles(
            per_minute.table_schema(enriched),
            transforms.LakeSinkConfig(os.path.join(out, 'aggregates'), format='jsonl'),
            metric_name='aggregates'))
    _ = ((read.dead_letters, parsed.dead_letters, mask.dead_letters, enrich.dead_letters,
          windowed.dead_letters, failed_rows, failed_aggregates)
         | 'AllDeadLetters' >> beam.Flatten()
         | 'MaskDeadLetters' >> transforms.MaskDeadLetters(
             schema, policy, transforms.MaskingKey.load('env:CORE_CHAIN_MASKING_KEY'))
         | 'WriteDeadLetters' >> transforms.WriteDeadLetters(transforms.DeadLetterSinkConfig(
             kind='files', path=os.path.join(out, 'dead_letters'))))
  print(json.dumps({'enabled': sorted(beam_patches.enabled()), 'symbols': beam_symbols()}))


if __name__ == '__main__':
  main(sys.argv[1], sys.argv[2], '--patches' in sys.argv[3:])
