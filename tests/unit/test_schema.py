"""Loading BigQuery schema JSON: accepted shapes, normalisation and clear errors."""

import json

import pytest

from beam_pipelines.transforms.core.schema import load_schema

FIELDS = [{'name': 'a', 'type': 'INTEGER'},
          {'name': 'r', 'type': 'RECORD', 'mode': 'REPEATED',
           'fields': [{'name': 'b', 'type': 'BOOLEAN', 'mode': 'REQUIRED'}]}]


@pytest.mark.parametrize('source', [
    FIELDS, {'fields': FIELDS}, {'schema': {'fields': FIELDS}}, json.dumps(FIELDS)])
def test_accepted_shapes(source):
  schema = load_schema(source)
  assert schema.field_names() == ['a', 'r']
  assert schema.fields[0].type == 'INT64' and schema.fields[0].mode == 'NULLABLE'
  assert schema.find('r.b').type == 'BOOL' and schema.find('r.b').required


def test_from_file_and_round_trip(tmp_path):
  path = tmp_path / 'schema.json'
  path.write_text(json.dumps(FIELDS))
  schema = load_schema(str(path))
  assert load_schema(schema.to_json()) == schema


@pytest.mark.parametrize('source,message', [
    ([{'name': 'a', 'type': 'VARCHAR'}], "field 'a' has unsupported type"),
    ([{'name': 'a', 'type': 'STRING', 'mode': 'OPTIONAL'}], "field 'a' has invalid mode"),
    ([{'name': 'a', 'type': 'RECORD'}], "RECORD field 'a' needs"),
    ([{'name': 'a', 'type': 'STRING'}, {'name': 'A', 'type': 'STRING'}], 'duplicate field'),
    ([{'name': 'a.b', 'type': 'STRING'}], 'invalid field name'),
    ([], 'non-empty list'),
    ('[not json', 'not valid JSON'),
    ([{'name': 'r', 'type': 'RECORD', 'fields': [{'name': 'x', 'type': 'NOPE'}]}],
     "field 'r.x'"),
])
def test_errors_name_the_problem(source, message):
  with pytest.raises(ValueError, match=message):
    load_schema(source)


def test_missing_file_is_named():
  with pytest.raises(ValueError, match='/no/such/schema.json'):
    load_schema('/no/such/schema.json')


def test_record_depth_limit():
  field = {'name': 'leaf', 'type': 'STRING'}
  for i in range(16):
    field = {'name': f'r{i}', 'type': 'RECORD', 'fields': [field]}
  with pytest.raises(ValueError, match='deeper than BigQuery allows'):
    load_schema([field])


def test_sample_schema_loads():
  import os
  here = os.path.dirname(__file__)
  schema = load_schema(os.path.join(here, '..', '..', 'samples', 'events_schema.json'))
  assert schema.find('user.address.country').type == 'STRING'
