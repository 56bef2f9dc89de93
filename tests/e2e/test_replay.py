"""replay_dead_letters: dead letter -> fix -> replay -> row in the BigQuery emulator; replay to
Pub/Sub with the original attributes; filters; what cannot be replayed is counted."""

import glob
import json
import time

import pytest

from beam_pipelines import files_to_bigquery, replay_dead_letters
from beam_pipelines.replay_dead_letters import ErrorTypeFilter
from beam_pipelines.transforms.core.dead_letter import make_dead_letter

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'name', 'type': 'STRING'}, {'name': 'ts', 'type': 'TIMESTAMP'}]
LINES = [b'{"id": 1, "name": "good"}',
         b'{"id": "5", "name": "five"}',          # type_mismatch:id (a string)
         b'{"id": "6", "name": "six"}',           # type_mismatch:id
         b'{"id": 7, "ts": "yesterday"}',         # invalid_value:ts
         b'{"id": 8']                             # invalid_json


def write_inputs(tmp_path):
  data = tmp_path / 'in.jsonl'
  data.write_bytes(b'\n'.join(LINES) + b'\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  return str(data), str(schema)


def ids(client, table):
  return sorted(r['id'] for r in client.query(f'SELECT id FROM {table}').result())


@pytest.mark.emulator
def test_round_trip_through_the_bigquery_dead_letter_table(tmp_path, bigquery_emulator,
                                                           bq_client, bq_dataset):
  data, schema = write_inputs(tmp_path)
  table = f'{bq_dataset}.events'
  files_to_bigquery.run(['--input', data, '--schema', schema, '--output_table', table],
                        print_summary=False)
  assert ids(bq_client, table) == [1]
  dead = [dict(r) for r in bq_client.query(
      f'SELECT errorType FROM {table}_error_records').result()]
  assert sorted(d['errorType'] for d in dead) == [
      'invalid_json', 'invalid_value:ts', 'type_mismatch:id', 'type_mismatch:id']

  # Replay only the type mismatches of stage validate to a file...
  replay_prefix = str(tmp_path / 'replay' / 'events')
  _, summary = replay_dead_letters.run([
      '--dead_letter_table', f'{bigquery_emulator.project}:{table}_error_records',
      '--error_type', 'type_mismatch:', '--stage', 'validate',
      '--replay_to_path', replay_prefix], print_summary=False)
  assert summary == {'read': 4, 'matched': 2, 'replayed': 2, 'skipped_truncated': 0,
                     'skipped_multiline': 0, 'unreadable': 0}
  replayed = sorted(line.rstrip(b'\n') for path in glob.glob(replay_prefix + '*.jsonl')
                    for line in open(path, 'rb'))
  assert replayed == sorted([LINES[1], LINES[2]])  # the original bytes

  # ...fix by re-running with coercion: the rows land in the table, no new dead letters.
  _, summary = files_to_bigquery.run([
      '--input', replay_prefix + '*', '--schema', schema, '--output_table', table,
      '--coerce_types', 'true'], print_summary=False)
  assert summary['rows_written'] == 2 and summary['dead_letters'] == 0
  assert ids(bq_client, table) == [1, 5, 6]


@pytest.mark.emulator
def test_replay_from_files_to_pubsub_keeps_attributes(tmp_path, pubsub_emulator,
                                                      pubsub_topic):
  from google.cloud import pubsub_v1
  topic, subscription = pubsub_topic
  data, schema = write_inputs(tmp_path)
  dead_prefix = str(tmp_path / 'dead' / 'events')
  files_to_bigquery.run(['--input', data, '--schema', schema,
                         '--output_path', str(tmp_path / 'lake' / 'events'),
                         '--dead_letter_sink', 'files', '--dead_letter_path', dead_prefix,
                         '--load_mode', 'append'], print_summary=False)
  _, summary = replay_dead_letters.run([
      '--dead_letter_path', dead_prefix, '--error_type', 'invalid_json,invalid_value:ts',
      '--replay_to_topic', topic], print_summary=False)
  assert summary['read'] == 4 and summary['replayed'] == 2

  subscriber = pubsub_v1.SubscriberClient()
  messages = []
  deadline = time.monotonic() + 60
  while len(messages) < 2 and time.monotonic() < deadline:
    response = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
    messages.extend(m.message for m in response.received_messages)
    if response.received_messages:
      subscriber.acknowledge(subscription=subscription,
                             ack_ids=[m.ack_id for m in response.received_messages])
  assert sorted(m.data for m in messages) == sorted([LINES[3], LINES[4]])
  for message in messages:
    assert dict(message.attributes) == {'file': data, 'format': 'jsonl'}


def write_dead_letter_file(path, records):
  with open(path, 'w', encoding='utf-8') as f:
    for record in records:
      f.write(json.dumps(record) + '\n')
    f.write('this line is not a dead letter\n')


def test_what_cannot_be_replayed_is_counted_not_lost(tmp_path):
  big = b'{"id": 1, "pad": "' + b'x' * (1024 * 1024) + b'"}'
  records = [
      make_dead_letter(big, stage='validate', error_type='type_mismatch:id', message='m',
                       source_id='big'),
      make_dead_letter(b'{\n "id": "2"\n}', stage='validate', error_type='type_mismatch:id',
                       message='m', source_id='pretty'),
      make_dead_letter(b'not\njson', stage='parse', error_type='type_mismatch:x',
                       message='m', source_id='multi'),
      make_dead_letter(b'3,"a\nb"', stage='validate', error_type='type_mismatch:id',
                       message='m', source_id='csv', attributes={'format': 'csv'}),
      make_dead_letter(b'{"id": 4}', stage='sink', error_type='type_mismatch:id',
                       message='m', source_id='other-stage'),
      make_dead_letter(b'{"id": 5}', stage='validate', error_type='invalid_value:ts',
                       message='m', source_id='other-type'),
  ]
  write_dead_letter_file(tmp_path / 'dead-00000-of-00001.jsonl', records)
  out = str(tmp_path / 'out' / 'replay')
  _, summary = replay_dead_letters.run([
      '--dead_letter_path', str(tmp_path / 'dead'), '--error_type', 'type_mismatch:*',
      '--stage', 'validate', '--replay_to_path', out, '--replay_suffix', '.txt'],
      print_summary=False)
  # matched: big, pretty, csv (multi is stage parse, other-stage is sink).
  assert summary == {'read': 6, 'matched': 3, 'replayed': 2, 'skipped_truncated': 1,
                     'skipped_multiline': 0, 'unreadable': 1}
  with open(glob.glob(out + '*.txt')[0], 'rb') as f:
    content = f.read()
  # The pretty-printed JSON is compacted to one line; CSV keeps its quoted newline.
  assert sorted(content.split(b'\n')) == sorted([b'{"id":"2"}', b'3,"a', b'b"', b''])
  _, summary = replay_dead_letters.run([
      '--dead_letter_path', str(tmp_path / 'dead*'), '--error_type', 'type_mismatch:x',
      '--replay_to_path', str(tmp_path / 'out2' / 'r')], print_summary=False)
  assert summary['matched'] == 1 and summary['skipped_multiline'] == 1
  assert summary['replayed'] == 0


def test_error_type_filter():
  f = ErrorTypeFilter('invalid_json, type_mismatch:')
  assert f('invalid_json') and f('type_mismatch:a.b') and not f('invalid_json_x')
  assert not f('type_mismatch') and not f(None)
  assert ErrorTypeFilter('*')('anything') and ErrorTypeFilter('missing*')('missing_required:a')
  with pytest.raises(ValueError):
    ErrorTypeFilter(' , ')


@pytest.mark.parametrize('argv,message', [
    (['--error_type', 'x', '--replay_to_path', '/tmp/r'], 'exactly one of --dead_letter_path'),
    (['--dead_letter_path', 'd', '--dead_letter_table', 'ds.t', '--error_type', 'x',
      '--replay_to_path', '/tmp/r'], 'exactly one of --dead_letter_path'),
    (['--dead_letter_path', 'd', '--replay_to_path', '/tmp/r'], '--error_type is required'),
    (['--dead_letter_path', 'd', '--error_type', 'x'], 'exactly one of --replay_to_path'),
    (['--dead_letter_path', 'd', '--error_type', 'x', '--replay_to_path', '/tmp/r',
      '--replay_to_topic', 'projects/p/topics/abc'], 'exactly one of --replay_to_path'),
    (['--dead_letter_path', 'd', '--error_type', 'x', '--replay_to_topic', 'abc'],
     '--replay_to_topic: replay_to_topic must be projects/PROJECT/topics/TOPIC'),
    (['--dead_letter_table', 'not a table', '--error_type', 'x', '--replay_to_path', 'r'],
     '--dead_letter_table'),
])
def test_replay_config_errors_exit_2(capsys, argv, message):
  with pytest.raises(SystemExit) as info:
    replay_dead_letters.run(argv)
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and message in err[0], err

