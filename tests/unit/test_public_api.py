"""The public API as a Beam user composes it (issue 15): every element kind into every public
transform, type hints Beam checks, schema'd Rows for Beam's schema-aware transforms, Beam's
own error idiom into the dead letters, one calling convention, and source ids through every
stage. FnApiRunner, in memory; the sinks write to temporary files."""

import glob
import json
import os
import uuid
import warnings

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.typehints.decorators import TypeCheckError

import beam_pipelines.transforms as api
from beam_pipelines.transforms.core.elements import SOURCE_ID_KEY

SCHEMA = {'fields': [
    {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'email', 'type': 'STRING'},
    {'name': 'n', 'type': 'INT64'},
    {'name': 'ts', 'type': 'TIMESTAMP'},
    {'name': 'user', 'type': 'RECORD', 'fields': [{'name': 'country', 'type': 'STRING'}]},
]}
POLICY = {'version': 1, 'default': 'keep', 'fields': {'email': {'method': 'redact'}}}
GOOD = {'id': 'a1', 'email': 'someone@example.com', 'n': 3, 'ts': '2026-01-01T00:00:10Z',
        'user': {'country': 'DE'}}
KINDS = {
    'raw_message': api.raw_message(json.dumps(GOOD), 'f.jsonl:1'),
    'str': json.dumps(GOOD),
    'bytes': json.dumps(GOOD).encode(),
    'dict': dict(GOOD),
    'row': beam.Row(id='a1', email='someone@example.com', n=3, ts='2026-01-01T00:00:10Z',
                    user=beam.Row(country='DE')),
}
_OUT = {}
REGIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'api_regions.csv')


def _collect(element, run, name):
  _OUT.setdefault((run, name), []).append(element)


@pytest.fixture(autouse=True)
def masking_key(monkeypatch):
  monkeypatch.setenv('API_TEST_MASKING_KEY', 'a-test-key-of-at-least-16-bytes')


def _key():
  return api.MaskingKey.load('env:API_TEST_MASKING_KEY')


def run(build, elements, options=None):
  """Runs ``build(pcoll) -> FallibleResult-like`` over ``elements``; returns what each of its
  outputs held."""
  run_id = uuid.uuid4().hex
  with beam.Pipeline(options=options or PipelineOptions(runner='FnApiRunner')) as p:
    result = build(p | beam.Create(elements, reshuffle=False))
    outputs = result._asdict() if hasattr(result, '_asdict') else {'dead_letters': result}
    for name, pcoll in outputs.items():
      _ = pcoll | f'Collect{name}' >> beam.Map(_collect, run_id, name)
  return {name: _OUT.pop((run_id, name), []) for name in outputs}


ROW_TRANSFORMS = {
    'MaskPII': lambda: api.MaskPII(SCHEMA, POLICY, _key()),
    'WindowAndAggregate': lambda: api.WindowAndAggregate(
        SCHEMA, api.WindowConfig('fixed', size_seconds=60, event_time_field='ts'),
        api.AggregateConfig(key_fields=('user.country',), sum_fields=('n',))),
    'CheckQuality': lambda: api.CheckQuality(
        {'rules': [{'id': 'n_range', 'kind': 'range', 'path': 'n', 'min': 0, 'max': 10}]}),
    'ToBeamRows': lambda: api.ToBeamRows(SCHEMA),
    'EnrichWithSideInput': lambda: api.EnrichWithSideInput(api.EnrichmentConfig(
        source=api.FileLookupSource(REGIONS), keys=('user.country',), lookup_keys=('code',),
        fields=('region',))),
}
# What each transform makes of the one good record, whatever kind it came as.
EXPECTED = {
    'MaskPII': lambda r: r == dict(GOOD, email='[REDACTED]'),
    'WindowAndAggregate': lambda r: (r['user_country'], r['count'], r['sum_n']) == ('DE', 1, 3),
    'CheckQuality': lambda r: r == GOOD,
    'ToBeamRows': lambda r: (r.id, r.n, r.user.country) == ('a1', 3, 'DE'),
    'EnrichWithSideInput': lambda r: r == dict(GOOD, region='EMEA'),
}


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_parse_and_validate_takes_every_kind_a_beam_user_has(kind):
  out = run(lambda pc: pc | api.ParseAndValidate(SCHEMA), [KINDS[kind]])
  assert out['dead_letters'] == []
  assert out['rows'] == [{**GOOD, 'ts': '2026-01-01T00:00:10.000000Z'}]


@pytest.mark.parametrize('kind', sorted(KINDS))
@pytest.mark.parametrize('name', sorted(ROW_TRANSFORMS))
def test_row_transforms_take_rows_and_refuse_other_kinds_as_dead_letters(name, kind):
  out = run(lambda pc: pc | ROW_TRANSFORMS[name](), [KINDS[kind]])
  rows, dead = out['rows'], out['dead_letters']
  if kind in ('dict', 'row'):
    assert dead == [] and len(rows) == 1
    assert EXPECTED[name](rows[0]), rows[0]
  else:
    assert rows == []  # never an empty or partial row
    assert [d['errorType'] for d in dead] == [f'unsupported_element:{kind}']
    assert 'expects rows' in dead[0]['errorMessage']
    if kind == 'raw_message':
      assert dead[0]['sourceId'] == 'f.jsonl:1'


def udf_add_one(row):
  return dict(row, n=row['n'] + 1)


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_user_function_kinds(kind):
  out = run(lambda pc: pc | api.ApplyUserFunction(f'{__name__}:udf_add_one'), [KINDS[kind]])
  if kind in ('dict', 'row'):
    assert out['dead_letters'] == [] and out['rows'][0]['n'] == 4
  else:
    assert out['rows'] == []
    assert out['dead_letters'][0]['errorType'] == f'unsupported_element:{kind}'


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_file_sink_takes_rows_and_refuses_other_kinds(kind, tmp_path):
  path = str(tmp_path / 'rows')
  out = run(lambda pc: pc | api.WriteRowsToFiles(SCHEMA, api.LakeSinkConfig(path, 'jsonl')),
            [KINDS[kind]])
  written = [json.loads(line) for f in glob.glob(path + '*') for line in open(f)]
  if kind in ('dict', 'row'):
    assert out['dead_letters'] == [] and written == [
        {**GOOD, 'user': {'country': 'DE'}}]
  else:
    assert written == []
    assert out['dead_letters'][0]['errorType'] == f'unsupported_element:{kind}'


def test_outputs_are_typed_and_beam_checks_them_at_construction():
  p = beam.Pipeline('FnApiRunner')
  parsed = p | beam.Create(['{}']) | api.ParseAndValidate(SCHEMA)
  # Dicts, not Any. (The key type reads Dict[str, Any] here but came out as Dict[Any, Any]
  # after ~150 other pipelines in the same process, in two of three full runs; either way
  # Beam checks a consumer against a dict type.)
  for output in (parsed.rows, parsed.dead_letters):
    assert isinstance(output.element_type, beam.typehints.typehints.DictConstraint), output
  masked = parsed.rows | api.MaskPII(SCHEMA, POLICY, _key())
  assert 'Dict' in str(masked.rows.element_type)
  with pytest.raises(TypeCheckError):
    _ = parsed.rows | beam.Map(lambda x: x).with_input_types(int)


def test_schemad_rows_work_with_beams_own_group_by():
  schema = {'fields': [{'name': 'k', 'type': 'STRING'}, {'name': 'n', 'type': 'INT64'},
                       {'name': 'amount', 'type': 'NUMERIC'}]}
  lines = ['{"k": "a", "n": 1, "amount": "1.50"}', '{"k": "a", "n": 2, "amount": "2"}',
           '{"k": "b", "n": 5}']

  def build(pc):
    parsed = pc | api.ParseAndValidate(schema)
    converted = parsed.rows | api.ToBeamRows()  # the schema is derived from the input rows
    totals = converted.rows | beam.GroupBy('k').aggregate_field('n', sum, 'total')
    return api.FallibleResult(rows=totals | beam.Map(lambda r: (r.k, r.total)),
                              dead_letters=converted.dead_letters)
  out = run(build, lines)
  assert sorted(out['rows']) == [('a', 3), ('b', 5)]
  assert out['dead_letters'] == []


def test_beams_exception_handling_output_becomes_dead_letters_of_a_named_stage(tmp_path):
  def score(row):
    return row['n'] / (row['n'] - 3)  # fails for n == 3

  def build(pc):
    parsed = pc | api.ParseAndValidate(SCHEMA, with_source_ids=True)
    good, bad = parsed.rows | beam.Map(score).with_exception_handling()
    errors = bad | api.ToDeadLetters(stage='scoring', pipeline_name='mine')
    return api.FallibleResult(rows=good, dead_letters=errors)
  message = api.raw_message(json.dumps(GOOD), 'events.jsonl:7')
  out = run(build, [message])
  [dead] = out['dead_letters']
  assert (dead['stage'], dead['errorType'], dead['sourceId'], dead['pipeline']) == (
      'scoring', 'exception:ZeroDivisionError', 'events.jsonl:7', 'mine')
  assert 'ZeroDivisionError' in dead['errorMessage'] and 'score' in dead['stacktrace']
  assert json.loads(dead['payloadString'])['id'] == 'a1'  # the row, without the source id
  assert SOURCE_ID_KEY not in dead['payloadString']


def test_write_dead_letters_takes_beams_error_output_as_it_is(tmp_path):
  path = str(tmp_path / 'dead')

  def build(pc):
    good, bad = pc | beam.Map(lambda x: 1 / x).with_exception_handling()
    return api.FallibleResult(rows=good, dead_letters=bad | api.WriteDeadLetters(
        api.DeadLetterSinkConfig(kind='files', path=path)))
  run(build, [0, 1])
  written = [json.loads(line) for f in glob.glob(path + '*') for line in open(f)]
  assert [(d['stage'], d['errorType'], d['payloadString']) for d in written] == [
      ('user', 'exception:ZeroDivisionError', '0')]


def test_schema_first_everywhere_and_the_old_order_still_works_with_a_warning(tmp_path):
  lake = api.LakeSinkConfig(str(tmp_path / 'x'), 'jsonl')
  window = api.WindowConfig('fixed', size_seconds=60, event_time_field='ts')
  aggregate = api.AggregateConfig(key_fields=('id',))
  with warnings.catch_warnings():
    warnings.simplefilter('error', DeprecationWarning)
    api.WriteRowsToFiles(SCHEMA, lake)
    api.WindowAndAggregate(SCHEMA, window, aggregate)
    api.MaskPII(SCHEMA, POLICY, _key())
    api.MaskDeadLetters(SCHEMA, POLICY, _key())
    api.WriteRowsToBigQuery(SCHEMA, api.BigQuerySinkConfig('p-123456:d.t'))
  for old_call in (lambda: api.WriteRowsToFiles(lake, SCHEMA),
                   lambda: api.WindowAndAggregate(window, aggregate, SCHEMA),
                   lambda: api.MaskPII(POLICY, SCHEMA, _key()),
                   lambda: api.MaskDeadLetters(POLICY, SCHEMA, _key()),
                   lambda: api.WriteRowsToBigQuery(api.BigQuerySinkConfig('p-123456:d.t'),
                                                   SCHEMA)):
    with pytest.warns(DeprecationWarning, match='argument order of 0.1'):
      transform = old_call()
    assert transform is not None


@pytest.mark.parametrize('form', ['path', 'dict', 'list', 'TableSchema'])
def test_the_schema_is_accepted_as_a_path_a_dict_a_list_or_a_table_schema(form, tmp_path):
  path = tmp_path / 'schema.json'
  path.write_text(json.dumps(SCHEMA))
  schema = {'path': str(path), 'dict': SCHEMA, 'list': SCHEMA['fields'],
            'TableSchema': api.load_schema(SCHEMA)}[form]
  for helper in (api.masked_schema(schema, POLICY),
                 api.aggregate_schema(schema, api.AggregateConfig(key_fields=('id',))),
                 api.quality_output_schema(schema, api.load_quality_rules(
                     {'flag_field': 'dq', 'rules': [{'id': 'r', 'kind': 'not_null',
                                                     'path': 'id'}]})),
                 api.enriched_schema(schema, api.EnrichmentConfig(
                     source=api.FileLookupSource(str(path)), keys=('id',), fields=('x',)))):
    assert isinstance(helper, api.TableSchema)
  assert isinstance(api.dead_letter_table_schema(), api.TableSchema)
  assert isinstance(api.quality_table_schema(), api.TableSchema)
  out = run(lambda pc: pc | api.ParseAndValidate(schema), [json.dumps(GOOD)])
  assert len(out['rows']) == 1


def test_pipeline_name_is_set_once_on_the_pipeline_and_an_argument_overrides_it():
  options = PipelineOptions(['--runner=FnApiRunner', '--pipeline_name=orders'])

  def build(pc):
    parsed = pc | api.ParseAndValidate(SCHEMA)
    failed = parsed.rows | api.ApplyUserFunction(f'{__name__}:udf_add_one',
                                                 pipeline_name='explicit')
    return api.FallibleResult(
        rows=failed.rows,
        dead_letters=(parsed.dead_letters, failed.dead_letters) | beam.Flatten())
  out = run(build, ['not json', json.dumps(dict(GOOD, n=None))], options=options)
  assert sorted((d['stage'], d['pipeline']) for d in out['dead_letters']) == [
      ('parse', 'orders'), ('user', 'explicit')]


def test_source_ids_survive_every_later_stage(tmp_path):
  """A record that fails at each later stage still names its file:line."""
  schema = SCHEMA

  def build(pc):
    parsed = pc | api.ParseAndValidate(schema, with_source_ids=True)
    masked = parsed.rows | api.MaskPII(schema, POLICY, _key())
    udf = masked.rows | api.ApplyUserFunction(f'{__name__}:udf_fail_on_b2')
    quality = udf.rows | api.CheckQuality({'rules': [
        {'id': 'small_n', 'kind': 'range', 'path': 'n', 'max': 100,
         'action': 'dead_letter'}]})
    # After a user function the rows' schema is not known: give it.
    window = quality.rows | api.WindowAndAggregate(
        schema, api.WindowConfig('fixed', size_seconds=60, event_time_field='ts'),
        api.AggregateConfig(key_fields=('id',)))
    extra = quality.rows | beam.Map(lambda r: dict(r, surprise=1) if r['id'] == 'e5' else r)
    sink = extra | api.WriteRowsToFiles(api.masked_schema(schema, POLICY),
                                        api.LakeSinkConfig(str(tmp_path / 'rows'), 'jsonl'))
    return api.FallibleResult(rows=window.rows, dead_letters=(
        parsed.dead_letters, masked.dead_letters, udf.dead_letters, quality.dead_letters,
        window.dead_letters, sink) | beam.Flatten())
  records = {
      'b2': dict(GOOD, id='b2'),                  # the user function raises
      'c3': dict(GOOD, id='c3', n=500),           # a dead_letter quality rule
      'd4': {k: v for k, v in GOOD.items() if k != 'ts'} | {'id': 'd4'},  # no event time
      'e5': dict(GOOD, id='e5'),                  # a field the file schema lacks
  }
  messages = [api.raw_message(json.dumps(r), f'in.jsonl:{i}')
              for i, r in enumerate(records.values(), start=1)]
  out = run(build, messages)
  by_stage = {d['stage']: d['sourceId'] for d in out['dead_letters']}
  assert by_stage == {'user': 'in.jsonl:1', 'quality': 'in.jsonl:2', 'window': 'in.jsonl:3',
                      'sink': 'in.jsonl:4'}
  written = [json.loads(line) for f in glob.glob(str(tmp_path / 'rows') + '*') for line in open(f)]
  assert sorted(r['id'] for r in written) == ['d4'] and SOURCE_ID_KEY not in written[0]
  assert all(SOURCE_ID_KEY not in d['payloadString'] for d in out['dead_letters'])


def udf_fail_on_b2(row):
  if row['id'] == 'b2':
    raise ValueError('bad b2')
  return row


def test_sinks_derive_the_schema_of_the_rows_they_are_given(tmp_path):
  """After MaskPII the rows have the masked schema: a sink given no schema writes exactly
  that; a sink given a schema that lacks a column of the rows does not drop it silently."""
  policy = {'version': 1, 'default': 'keep', 'fields': {'email': 'drop'}}
  path = str(tmp_path / 'masked')

  def build(pc):
    parsed = pc | api.ParseAndValidate(SCHEMA)
    masked = parsed.rows | api.MaskPII(SCHEMA, policy, _key())
    derived = masked.rows | 'Derived' >> api.WriteRowsToFiles(
        config=api.LakeSinkConfig(path, 'jsonl'))
    too_small = {'fields': [f for f in SCHEMA['fields'] if f['name'] != 'n']}
    wrong = masked.rows | 'Wrong' >> api.WriteRowsToFiles(
        too_small, api.LakeSinkConfig(str(tmp_path / 'wrong'), 'jsonl'))
    return api.FallibleResult(rows=masked.rows, dead_letters=(derived, wrong) | beam.Flatten())
  out = run(build, [json.dumps(GOOD)])
  written = [json.loads(line) for f in glob.glob(path + '*') for line in open(f)]
  assert written == [{k: v for k, v in GOOD.items() if k != 'email'}
                     | {'ts': '2026-01-01T00:00:10.000000Z'}]
  assert [d['errorType'] for d in out['dead_letters']] == ['unknown_field']
  assert 'n' in out['dead_letters'][0]['errorMessage']
  assert not glob.glob(str(tmp_path / 'wrong') + '*') or all(
      os.path.getsize(f) == 0 for f in glob.glob(str(tmp_path / 'wrong') + '*'))
