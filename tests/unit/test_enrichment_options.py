"""--enrichment_* options -> EnrichmentConfig: syntax, defaults, errors naming the option."""

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.chain_steps import enrich
from beam_pipelines.options.enrichment import EnrichmentOptions, enrichment_config
from beam_pipelines.options.values import ConfigError
from beam_pipelines.transforms.enrichment.sources.bigquery import BigQueryLookupSource
from beam_pipelines.transforms.enrichment.sources.file import FileLookupSource
from beam_pipelines.transforms.enrichment import parse_source


def config(*argv):
  return enrichment_config(PipelineOptions(list(argv)), pipeline_name='p')


def test_options_class_subclasses_pipeline_options_directly():
  assert EnrichmentOptions.__bases__ == (PipelineOptions,)
  parsed = PipelineOptions(['--enrichment_source', 'x.csv']).view_as(EnrichmentOptions)
  assert parsed.enrichment_source == 'x.csv'
  assert parsed.enrichment_missing == 'keep' and parsed.enrichment_mode == 'broadcast'


def test_absent_source_means_no_enrichment():
  assert config() is None
  rows = beam.Pipeline() | beam.Create([{'a': 1}])
  result = enrich(rows, None)
  assert result.rows is rows and result.dead_letters is None


def test_full_syntax():
  cfg = config('--enrichment_source', 'gs://bucket/regions.csv.gz',
               '--enrichment_keys', 'user.address.country=code, tier',
               '--enrichment_fields', 'region:customer_region,name',
               '--enrichment_prefix', 'geo_', '--enrichment_missing', 'dead_letter',
               '--enrichment_collision', 'row_wins', '--enrichment_duplicates', 'error',
               '--enrichment_mode', 'keyed')
  assert cfg.source == FileLookupSource('gs://bucket/regions.csv.gz', format='csv')
  assert cfg.keys == ('user.address.country', 'tier')
  assert cfg.lookup_keys == ('code', 'tier')
  assert cfg.fields == ('region', 'name')
  assert cfg.output_fields() == ('customer_region', 'geo_name')
  assert (cfg.missing, cfg.collision, cfg.duplicates, cfg.mode) == (
      'dead_letter', 'row_wins', 'error', 'keyed')
  assert cfg.pipeline_name == 'p' and cfg.refresh_seconds is None


@pytest.mark.parametrize('text, expected', [
    ('bq://my-project.ds.regions', BigQueryLookupSource(table='my-project.ds.regions')),
    ('bq://ds.regions', BigQueryLookupSource(table='ds.regions')),
    ('bq-query:SELECT code, region FROM ds.r ORDER BY updated',
     BigQueryLookupSource(query='SELECT code, region FROM ds.r ORDER BY updated')),
    ('csv:/data/lookup.txt', FileLookupSource('/data/lookup.txt', format='csv')),
    ('jsonl:/data/lookup', FileLookupSource('/data/lookup', format='jsonl')),
    ('/data/l.ndjson', FileLookupSource('/data/l.ndjson', format='jsonl')),
])
def test_source_syntax(text, expected):
  assert parse_source(text) == expected


def test_bq_dataset_table_takes_the_project_option():
  cfg = config('--project', 'other-project', '--enrichment_source', 'bq://ds.regions',
               '--enrichment_keys', 'k', '--enrichment_fields', 'v')
  assert cfg.source.table == 'other-project.ds.regions'


def test_refresh_options():
  cfg = config('--enrichment_source', 'r.csv', '--enrichment_keys', 'k',
               '--enrichment_fields', 'v', '--enrichment_refresh_seconds', '60',
               '--enrichment_refresh_horizon_seconds', '86400',
               '--enrichment_refresh_time', 'event', '--streaming', '--runner',
               'DataflowRunner', '--enrichment_version_field', 'lookup_version')
  assert (cfg.refresh_seconds, cfg.refresh_horizon_seconds, cfg.refresh_time) == (
      60.0, 86400.0, 'event')
  assert (cfg.refresh_strategy, cfg.version_field) == ('auto', 'lookup_version')
  worker = config('--enrichment_source', 'r.csv', '--enrichment_keys', 'k',
                  '--enrichment_fields', 'v', '--enrichment_refresh_seconds', '5',
                  '--streaming', '--runner', 'BundleBasedDirectRunner')
  assert worker.refresh_strategy == 'auto' and worker.refresh_seconds == 5.0


_REFRESHING = ['--enrichment_source', 'r.csv', '--enrichment_keys', 'k',
               '--enrichment_fields', 'v', '--enrichment_refresh_seconds', '5']


@pytest.mark.parametrize('argv, message', [
    (_REFRESHING, '--enrichment_refresh_seconds: refresh_seconds needs a streaming pipeline'),
    (_REFRESHING + ['--streaming', '--runner', 'BundleBasedDirectRunner',
                    '--enrichment_refresh_strategy', 'side_input'],
     '--enrichment_refresh_strategy: the side-input refresh cannot run on the Python '
     'BundleBasedDirectRunner'),
    (_REFRESHING + ['--streaming', '--enrichment_refresh_time', 'event'],
     '--enrichment_refresh_time: the side-input refresh cannot run on the Python '
     'DirectRunner'),
    (_REFRESHING + ['--streaming', '--runner', 'FnApiRunner',
                    '--enrichment_refresh_strategy', 'side_input'],
     '--enrichment_refresh_strategy: a side-input refresh with processing join times'),
    (_REFRESHING + ['--streaming', '--enrichment_refresh_strategy', 'worker',
                    '--enrichment_refresh_time', 'event'],
     '--enrichment_refresh_time: event join times pick a version'),
    (_REFRESHING + ['--streaming', '--enrichment_refresh_strategy', 'nightly'],
     '--enrichment_refresh_strategy: refresh_strategy must be one of'),
    (_REFRESHING[:6] + ['--enrichment_refresh_strategy', 'worker'],
     '--enrichment_refresh_strategy: worker needs refresh_seconds'),
    (_REFRESHING[:6] + ['--enrichment_version_field', 'ver'],
     '--enrichment_version_field: only a refreshing lookup'),
    (_REFRESHING + ['--streaming', '--enrichment_version_field', 'v'],
     '--enrichment_version_field'),
    (_REFRESHING[:6] + ['--streaming', '--enrichment_mode', 'keyed'],
     '--enrichment_mode: keyed joins run in batch pipelines only'),
])
def test_refresh_errors_are_found_before_the_graph_is_built(argv, message):
  with pytest.raises(ConfigError) as info:
    config(*argv)
  assert message in str(info.value)


@pytest.mark.parametrize('argv, message', [
    (['--enrichment_keys', 'k'], '--enrichment_source is required with --enrichment_keys'),
    (['--enrichment_source', 'r.csv', '--enrichment_fields', 'v'],
     '--enrichment_keys is required'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k'],
     '--enrichment_fields is required'),
    (['--enrichment_source', 'r.xml', '--enrichment_keys', 'k', '--enrichment_fields', 'v'],
     '--enrichment_source: format: cannot tell the format'),
    (['--enrichment_source', 'bq://not a table', '--enrichment_keys', 'k',
      '--enrichment_fields', 'v'], '--enrichment_source'),
    (['--enrichment_source', 'bq-query:', '--enrichment_keys', 'k',
      '--enrichment_fields', 'v'], '--enrichment_source: bq-query: needs a query'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'a..b',
      '--enrichment_fields', 'v'], '--enrichment_keys'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields', 'v',
      '--enrichment_missing', 'ignore'], '--enrichment_missing: missing must be one of'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields', 'v',
      '--enrichment_collision', 'x'], '--enrichment_collision'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields', 'v',
      '--enrichment_duplicates', 'x'], '--enrichment_duplicates'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields', 'v',
      '--enrichment_mode', 'hash'], '--enrichment_mode'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields', 'v',
      '--enrichment_refresh_seconds', 'soon'], '--enrichment_refresh_seconds: expected a'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields', 'v',
      '--enrichment_refresh_seconds', '0.1'], '--enrichment_refresh_seconds'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields', 'v',
      '--enrichment_refresh_seconds', '60', '--enrichment_refresh_horizon_seconds', '10'],
     '--enrichment_refresh_horizon_seconds'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields',
      'v:w,x:w'], '--enrichment_fields'),
    (['--enrichment_source', 'r.csv', '--enrichment_keys', 'k', '--enrichment_fields', 'v',
      '--enrichment_prefix', 'a.b'], '--enrichment_prefix'),
])
def test_errors_name_the_option(argv, message):
  with pytest.raises(ConfigError) as info:
    config(*argv)
  assert message in str(info.value)


def _labels(p):
  labels = []

  class Visitor(beam.pipeline.PipelineVisitor):
    def enter_composite_transform(self, node):
      labels.append(node.full_label)

    def visit_transform(self, node):
      labels.append(node.full_label)

  p.visit(Visitor())
  return labels


@pytest.mark.parametrize('with_enrichment', [True, False])
def test_files_to_bigquery_graph_has_an_enrich_step_only_when_asked(tmp_path,
                                                                    with_enrichment):
  import dataclasses
  import json

  from beam_pipelines import files_to_bigquery
  from beam_pipelines.config import files_to_bigquery_config
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps([{'name': 'k', 'type': 'STRING'}]))
  argv = ['--input', str(tmp_path / 'x.jsonl'), '--schema', str(schema),
          '--output_table', 'my-project:d.t']
  if with_enrichment:
    argv += ['--enrichment_source', 'r.csv', '--enrichment_keys', 'k',
             '--enrichment_fields', 'v']
  options = PipelineOptions(argv)
  cfg = dataclasses.replace(files_to_bigquery_config(options),
                            enrichment=enrichment_config(options))
  p = beam.Pipeline('FnApiRunner', options=options)
  files_to_bigquery.build_pipeline(p, cfg)
  labels = _labels(p)
  assert ('Enrich' in labels) == with_enrichment
  assert ('Enrich/LoadLookup' in labels) == with_enrichment


def test_refresh_graph_translates_for_dataflow_offline():
  """The periodic refresh cannot run on the local DirectRunner (Beam 2.77), so check at
  least that Dataflow accepts the graph: a dry run builds the job without network."""
  options = PipelineOptions([
      '--runner=DataflowRunner', '--dry_run=True', '--streaming',
      '--project=test-project', '--region=europe-west1',
      '--temp_location=gs://bucket-name/tmp', '--staging_location=gs://bucket-name/stage',
      '--enrichment_source', 'gs://bucket-name/regions.csv', '--enrichment_keys', 'k',
      '--enrichment_fields', 'v', '--enrichment_refresh_seconds', '60'])
  cfg = enrichment_config(options)
  p = beam.Pipeline(options=options)
  rows = (p | beam.io.ReadFromPubSub(subscription='projects/test-project/subscriptions/s1')
          | beam.Map(lambda b: {'k': b.decode()}))
  result = enrich(rows, cfg)
  _ = (result.rows, result.dead_letters) | beam.Flatten()
  job = p.run().job
  names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
  assert {'Enrich/RefreshTicks/RefreshSchedule', 'Enrich/RefreshTicks/RefreshTicks',
          'Enrich/LoadLookup', 'Enrich/StampJoinTime', 'Enrich/Join',
          'Enrich/RestoreWindowing'} <= names
