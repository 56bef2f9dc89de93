"""--udf in files_to_bigquery: a user function that raises on some rows sends those rows to
the dead-letter table (stage ``user``) and the run completes; no crash loop, nothing lost."""

import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import files_to_bigquery

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'name', 'type': 'STRING'}]
UDF = '''
def clean(row):
    if row['id'] % 5 == 0:
        return 1 // 0            # a bug in user code: ZeroDivisionError
    if row['id'] % 7 == 0:
        return None              # dropped on purpose
    if row['id'] == 3:
        return "not a row"       # a wrong return type is a dead letter too
    return dict(row, name=(row.get('name') or '').upper())
'''


def write_inputs(tmp_path, n=30):
  data = tmp_path / 'in.jsonl'
  data.write_text(''.join(json.dumps({'id': i, 'name': f'n{i}'}) + '\n'
                          for i in range(1, n + 1)) + '{"id": "bad"}\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  udf = tmp_path / 'my_udf.py'
  udf.write_text(UDF)
  return data, schema, udf


def test_udf_step_is_labelled_and_placed_before_the_sink(tmp_path):
  data, schema, udf = write_inputs(tmp_path)
  options = PipelineOptions(['--input', str(data), '--schema', str(schema),
                             '--output_path', str(tmp_path / 'out'), '--udf', f'{udf}:clean'])
  cfg = files_to_bigquery.config_from_options(options)
  assert cfg.udf == f'{udf}:clean'
  p = beam.Pipeline(runner='FnApiRunner')
  files_to_bigquery.build_pipeline(p, cfg)
  labels = [t.full_label for t in p.transforms_stack[0].parts]
  assert labels.index('ApplyUserFunction') < labels.index('WriteFiles')
  assert labels.index('ParseAndValidate') < labels.index('ApplyUserFunction')


@pytest.mark.emulator
def test_udf_exception_becomes_a_dead_letter_end_to_end(tmp_path, bigquery_emulator, bq_client,
                                                        bq_dataset):
  data, schema, udf = write_inputs(tmp_path)
  _, summary = files_to_bigquery.run([
      '--input', str(data), '--schema', str(schema), '--output_table', f'{bq_dataset}.events',
      '--udf', f'{udf}:clean'], print_summary=False)
  rows = sorted((r['id'], r['name']) for r in bq_client.query(
      f'SELECT id, name FROM {bq_dataset}.events').result())
  failing = [i for i in range(1, 31) if i % 5 == 0]
  dropped = [i for i in range(1, 31) if i % 7 == 0 and i % 5 != 0]
  kept = [i for i in range(1, 31) if i not in failing + dropped + [3]]
  assert rows == [(i, f'N{i}') for i in kept]
  dead = [dict(r) for r in bq_client.query(
      f'SELECT sourceId, errorType, stage, payloadString, stacktrace, errorMessage '
      f'FROM {bq_dataset}.events_error_records').result()]
  by_type = {}
  for d in dead:
    by_type.setdefault((d['stage'], d['errorType']), []).append(d)
  assert sorted(json.loads(d['payloadString'])['id']
                for d in by_type[('user', 'udf_error:ZeroDivisionError')]) == failing
  assert all('ZeroDivisionError' in d['stacktrace'] and 'clean' in d['errorMessage']
             for d in by_type[('user', 'udf_error:ZeroDivisionError')])
  assert [json.loads(d['payloadString'])['id']
          for d in by_type[('user', 'udf_error:TypeError')]] == [3]
  assert len(by_type[('validate', 'type_mismatch:id')]) == 1
  assert len(dead) == len(failing) + 2
  counters = summary['counters']
  assert counters['user/dropped'] == len(dropped)
  # records in == rows written + dead letters + removed on purpose by the user function
  assert summary['records_read'] == 31
  assert summary['records_read'] == (summary['rows_written'] + summary['dead_letters']
                                     + counters['user/dropped'])
  assert summary['rows_written'] == len(rows)
