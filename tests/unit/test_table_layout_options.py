"""TableLayout: partitioning, clustering and retention of a table, checked against its schema,
and the layouts the options give every table of a run."""

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options.layout import TableLayoutOptions, table_layouts
from beam_pipelines.options.values import ConfigError
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.core.table_layout import INGESTION_TIME, TableLayout

SCHEMA = load_schema([
    {'name': 'Event_Time', 'type': 'TIMESTAMP'}, {'name': 'day', 'type': 'DATE'},
    {'name': 'local', 'type': 'DATETIME'}, {'name': 'kind', 'type': 'STRING'},
    {'name': 'score', 'type': 'FLOAT64'}, {'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'},
    {'name': 'user', 'type': 'RECORD', 'fields': [{'name': 'id', 'type': 'STRING'}]}])


def test_columns_are_spelled_as_the_schema_spells_them():
  layout = TableLayout('event_time', 'hour', ('KIND', 'day')).for_schema(SCHEMA)
  assert (layout.partition_field, layout.partition_granularity, layout.clustering_fields) == (
      'Event_Time', 'HOUR', ('kind', 'day'))
  assert layout.partition_field_type == 'TIMESTAMP'


@pytest.mark.parametrize('kwargs, message', [
    ({'partition_field': 'kind'}, "partition_field 'kind' is STRING"),
    ({'partition_field': 'nope'}, "partition_field: the table has no column 'nope'"),
    ({'partition_field': 'user.id'}, 'nested field'),
    ({'partition_field': 'day', 'partition_granularity': 'HOUR'}, 'HOUR needs a TIMESTAMP'),
    ({'clustering_fields': ('score',)}, "clustering_fields: 'score' is FLOAT64"),
    ({'clustering_fields': ('tags',)}, "'tags' is REPEATED"),
    ({'clustering_fields': ('user',)}, "'user' is RECORD"),
])
def test_a_layout_the_schema_cannot_have_names_argument_and_column(kwargs, message):
  with pytest.raises(ValueError, match=message):
    TableLayout(**kwargs).for_schema(SCHEMA)


@pytest.mark.parametrize('kwargs, message', [
    ({'partition_granularity': 'WEEK'}, 'partition_granularity must be one of'),
    ({'clustering_fields': ('a', 'b', 'c', 'd', 'e')}, 'at most 4 columns'),
    ({'clustering_fields': ('a', 'A')}, 'named twice'),
    ({'partition_field': 'day', 'partition_expiration_days': 0}, 'positive number of days'),
    ({'partition_expiration_days': 3}, 'needs a partition_field'),
])
def test_the_constructor_refuses_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    TableLayout(**kwargs)


def test_rest_form_and_client_table_agree():
  from google.cloud import bigquery
  layout = TableLayout('day', 'MONTH', ('kind',), 1.5).for_schema(SCHEMA)
  assert layout.to_api() == {
      'timePartitioning': {'type': 'MONTH', 'field': 'day', 'expirationMs': '129600000'},
      'clustering': {'fields': ['kind']}}
  table = layout.apply_to(bigquery.Table('p.d.t'))
  assert table.time_partitioning.field == 'day' and table.time_partitioning.type_ == 'MONTH'
  assert table.time_partitioning.expiration_ms == 129600000
  assert table.clustering_fields == ['kind']
  assert layout.differences(table) == []
  assert TableLayout('day').differences(table) == ['partitioned by day MONTH',
                                                   "clustered by ['kind']"]
  ingestion = TableLayout(INGESTION_TIME, 'HOUR')
  assert ingestion.to_api() == {'timePartitioning': {'type': 'HOUR'}}
  assert ingestion.apply_to(bigquery.Table('p.d.t')).time_partitioning.field is None
  assert TableLayout().to_api() == {} and TableLayout().is_default


@pytest.mark.parametrize('field, granularity, sql', [
    ('event_time', 'DAY', 'TIMESTAMP_TRUNC(t.`Event_Time`, DAY)'),
    ('day', 'YEAR', 'DATE_TRUNC(t.`day`, YEAR)'),
    ('local', 'HOUR', 'DATETIME_TRUNC(t.`local`, HOUR)'),
    (INGESTION_TIME, 'DAY', 'TIMESTAMP_TRUNC(t._PARTITIONTIME, DAY)'),
])
def test_the_partition_of_a_row_in_sql(field, granularity, sql):
  layout = TableLayout(field, granularity).for_schema(SCHEMA)
  assert layout.partition_key_sql('t') == sql


def _options(*argv):
  return PipelineOptions(list(argv)).view_as(TableLayoutOptions)


def test_options_lay_out_every_table_of_the_run():
  layouts = table_layouts(_options('--partition_field', 'event_time', '--clustering_fields',
                                   'kind', '--partition_expiration_days', '400',
                                   '--dead_letter_retention_days', '30'), SCHEMA, ['kind'])
  assert layouts.rows.partition_field == 'Event_Time'
  assert layouts.rows.partition_expiration_days == 400
  assert (layouts.dead_letters.partition_field, layouts.dead_letters.clustering_fields,
          layouts.dead_letters.partition_expiration_days) == ('timestamp', ('errorType',), 30)
  assert (layouts.aggregates.partition_field, layouts.aggregates.clustering_fields) == (
      'window_start', ('kind',))
  assert layouts.quality.partition_expiration_days == 400
  assert layouts.manifest.clustering_fields == ('path',)
  assert layouts.manifest.partition_expiration_days is None  # never expires


def test_without_options_tables_stay_as_bigquery_makes_them_but_dead_letters_may_expire():
  assert table_layouts(_options(), SCHEMA)[:4] == (None, None, None, None)
  layouts = table_layouts(_options('--dead_letter_retention_days', '7'), SCHEMA)
  assert layouts.rows is None and layouts.dead_letters.partition_expiration_days == 7
  # rows partitioned, no retention of their own: dead letters inherit the partition expiry
  layouts = table_layouts(_options('--partition_field', 'day', '--partition_expiration_days',
                                   '9'), SCHEMA)
  assert layouts.dead_letters.partition_expiration_days == 9


@pytest.mark.parametrize('argv, kwargs, option', [
    (['--partition_field', 'kind'], {}, '--partition_field'),
    (['--partition_field', 'day', '--partition_granularity', 'HOUR'], {},
     '--partition_granularity'),
    (['--clustering_fields', 'tags'], {}, '--clustering_fields'),
    (['--partition_expiration_days', 'soon'], {}, '--partition_expiration_days'),
    (['--dead_letter_retention_days', '0'], {}, '--dead_letter_retention_days'),
    (['--partition_field', 'day'], {'tables': False}, '--partition_field'),
    (['--dead_letter_retention_days', '3'], {'dead_letter_table': False},
     '--dead_letter_retention_days'),
])
def test_option_errors_name_the_option(argv, kwargs, option):
  with pytest.raises(ConfigError, match=option):
    table_layouts(_options(*argv), SCHEMA, **kwargs)
