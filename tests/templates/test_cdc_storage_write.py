"""``--apply_mode storage_write_cdc`` on Dataflow, built offline with ``--dry_run``.

Beam's CDC writes are a cross-language transform: the Java expansion service jar is fetched
from Maven while the pipeline is *built*. This machine has no route to Maven, so the dry run
can only get as far as that fetch: the test asserts the pipeline stops there with our error
naming the jar (and Beam's own message). Were the jar cached in ``~/.apache_beam/cache/jars``,
the same test asserts the translated job holds the CDC write step instead.
"""

import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import cdc_to_bigquery
from beam_pipelines.transforms.cdc.storage_write import StorageWriteUnavailable

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JAR = os.path.expanduser(
    '~/.apache_beam/cache/jars/beam-sdks-java-io-google-cloud-platform-expansion-service-'
    f'{beam.__version__}.jar')


def test_storage_write_cdc_dry_run_translates_or_stops_at_the_missing_jar(monkeypatch):
  monkeypatch.chdir(REPO)
  monkeypatch.delenv('BIGQUERY_EMULATOR_HOST', raising=False)
  options = PipelineOptions([
      '--input=gs://my-bucket/cdc/*.jsonl', '--schema=samples/cdc/customers_schema.json',
      '--primary_key=id', '--output_table=my-project:crm.customers',
      '--apply_mode=storage_write_cdc', '--cdc_decimal_mode=string',
      '--runner=DataflowRunner', '--dry_run=True', '--project=my-project',
      '--region=europe-west1', '--temp_location=gs://my-bucket/tmp'])
  cfg = cdc_to_bigquery.config_from_options(options)
  assert cfg.merge is None and cfg.storage_write_table == 'my-project:crm.customers'
  pipeline = beam.Pipeline(options=options)
  if not os.path.exists(JAR):
    with pytest.raises(StorageWriteUnavailable,
                       match='Unable to fetch remote job server jar') as caught:
      cdc_to_bigquery.build_pipeline(pipeline, cfg)
    assert 'expansion service' in str(caught.value) and 'launcher container' in str(
        caught.value)
    return
  cdc_to_bigquery.build_pipeline(pipeline, cfg)
  result = pipeline.run()
  names = {t.unique_name for t in result.job.proto_pipeline.components.transforms.values()}
  assert any('ApplyWithStorageWriteCdc/WriteCdc' in n for n in names), sorted(names)
