"""ApplyUserFunction: user code that raises becomes a dead letter, never a crash loop."""

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from beam_pipelines.transforms.udf.apply import ApplyUserFunction, load_function

UDF = '''
def clean(row):
    if row["id"] == 2:
        raise KeyError("no such customer")
    if row["id"] == 3:
        return None
    if row["id"] == 4:
        return [dict(row, part=1), dict(row, part=2)]
    if row["id"] == 5:
        return "not a row"
    return dict(row, name=row["name"].upper())
'''


def test_rows_drops_fanout_and_failures(tmp_path):
  path = tmp_path / 'udf.py'
  path.write_text(UDF)
  rows = [{'id': i, 'name': f'n{i}'} for i in range(1, 6)]
  with TestPipeline(runner='FnApiRunner') as p:
    result = p | beam.Create(rows) | ApplyUserFunction(f'{path}:clean', pipeline_name='job')
    assert_that(result.rows, equal_to([
        {'id': 1, 'name': 'N1'}, {'id': 4, 'name': 'n4', 'part': 1},
        {'id': 4, 'name': 'n4', 'part': 2}]), label='rows')
    assert_that(result.dead_letters | beam.Map(lambda d: (
        d['stage'], d['errorType'], d['payloadString'], 'Traceback' in d['stacktrace'],
        d['pipeline'])), equal_to([
            ('user', 'udf_error:KeyError', '{"id": 2, "name": "n2"}', True, 'job'),
            ('user', 'udf_error:TypeError', '{"id": 5, "name": "n5"}', True, 'job')]),
        label='dead')


@pytest.mark.parametrize('spec,message', [
    ('no_colon', 'must look like'),
    ('/no/such/file.py:f', 'does not exist'),
    ('json:not_there', "'not_there' is not a function"),
    ('no_such_module_xyz:f', 'cannot load udf'),
])
def test_bad_specs_are_rejected_at_construction(spec, message):
  with pytest.raises(ValueError, match=message):
    ApplyUserFunction(spec)


def test_module_function_spec():
  assert load_function('json:dumps')({'a': 1}) == '{"a": 1}'
