"""Property-based tests filling the gaps of test_validate_properties.py (which covers JSON
payloads): the CSV and Avro payload decoders through the parse step, TIMESTAMP values near
BigQuery's bounds, and every file reader on random or damaged bytes.

Invariants: nothing raises; every input is accounted for (exactly one output per payload; a
file's records plus at most one read dead letter naming the file); no ``internal_error``
(an internal error means a bug of ours turned a bad value into an exception).
"""

import io
import os
import tempfile

import fastavro
from apache_beam.io.fileio import ReadableFile
from apache_beam.io.filesystem import FileMetadata
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beam_pipelines.transforms.read.formats.avro import ReadAvroFn
from beam_pipelines.transforms.read.formats.csv_reader import ReadCsvFn
from beam_pipelines.transforms.read.formats.jsonl import ReadJsonLinesFn
from beam_pipelines.transforms.read.formats.parquet import ReadParquetFn
from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat
from beam_pipelines.transforms.validate.parse import ParseConfig, ParseAndValidateFn
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.validate.validator import RecordValidator, ValidationPolicy

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'name', 'type': 'STRING'},
          {'name': 'amount', 'type': 'NUMERIC'},
          {'name': 'ts', 'type': 'TIMESTAMP'},
          {'name': 'ok', 'type': 'BOOL'}]
AVRO_SCHEMA = {'type': 'record', 'name': 'E', 'fields': [
    {'name': 'id', 'type': ['null', 'long', 'string']},
    {'name': 'name', 'type': ['null', 'string', 'bytes']},
    {'name': 'amount', 'type': ['null', 'double', {'type': 'bytes', 'logicalType': 'decimal',
                                                    'precision': 40, 'scale': 10}]},
    {'name': 'ts', 'type': ['null', 'long', 'string']},
    {'name': 'ok', 'type': ['null', 'boolean', 'int']}]}
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_output(fn, payload, attributes):
  outputs = list(fn.process(RawMessage(payload, attributes, 'src:1', 0.0, None)))
  assert len(outputs) == 1, outputs
  out = outputs[0]
  if hasattr(out, 'tag'):
    assert out.value['errorType'] != 'internal_error', out.value['errorMessage']
    assert out.value['sourceId'] == 'src:1'
    return None
  return out


CELL = st.one_of(st.text(max_size=12), st.sampled_from(
    ['1', '-9223372036854775809', '1e400', 'NaN', '253402300800', '2024-02-30', 'true',
     '0001-01-01 00:00:00', '9999-12-31 23:59:59.9999999', '"', '""', '\r\n', ',']))


@settings(max_examples=300, **SETTINGS)
@given(payload=st.one_of(
    st.binary(max_size=120),
    st.lists(CELL, min_size=0, max_size=7).map(lambda cells: ','.join(cells).encode(
        'utf-8', 'surrogatepass'))))
def test_csv_payloads_through_the_parse_step(payload):
  fn = ParseAndValidateFn(load_schema(SCHEMA), ParseConfig(format='csv', csv=CsvFormat(header=True)))
  fn.setup()
  row = _one_output(fn, payload, {'csv_columns': '["id", "name", "amount", "ts", "ok"]'})
  assert row is None or isinstance(row['id'], int)


AVRO_VALUES = st.fixed_dictionaries({
    'id': st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.text(max_size=5)),
    'name': st.one_of(st.none(), st.text(max_size=8), st.binary(max_size=8)),
    'amount': st.one_of(st.none(), st.floats(), st.decimals(
        allow_nan=False, allow_infinity=False, places=10,
        min_value=-10**29, max_value=10**29)),
    'ts': st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.text(max_size=30)),
    'ok': st.one_of(st.none(), st.booleans(), st.integers(-2**31, 2**31 - 1))})


def _datum(record):
  buf = io.BytesIO()
  fastavro.schemaless_writer(buf, fastavro.parse_schema(AVRO_SCHEMA), record)
  return buf.getvalue()


@settings(max_examples=300, **SETTINGS)
@given(record=AVRO_VALUES, damage=st.one_of(
    st.just(None), st.binary(min_size=1, max_size=4), st.integers(0, 40)))
def test_avro_payloads_through_the_parse_step(record, damage):
  fn = ParseAndValidateFn(load_schema(SCHEMA), ParseConfig(format='avro', avro_schema=AVRO_SCHEMA))
  fn.setup()
  payload = _datum(record)
  if isinstance(damage, bytes):
    payload += damage          # trailing garbage: invalid_avro
  elif isinstance(damage, int):
    payload = payload[:damage]  # truncation
  _one_output(fn, payload, {})


@settings(max_examples=200, **SETTINGS)
@given(seconds=st.one_of(
    st.integers(-62135596800 - 10, -62135596800 + 10),
    st.integers(253402300799 - 10, 253402300800 + 10),
    st.floats(-62135596801.0, -62135596799.0), st.floats(253402300799.0, 253402300801.0),
    st.integers(), st.floats()))
def test_timestamp_seconds_near_the_bounds_never_raise(seconds):
  row, problems = RecordValidator(SCHEMA, ValidationPolicy()).validate(
      {'id': 1, 'ts': seconds})
  assert (row is None) == bool(problems)
  if row is not None:
    assert '0001-01-01T00:00:00' <= row['ts'] <= '9999-12-31T23:59:59.999999Z'
  else:
    assert [p.kind for p in problems] == ['out_of_range']


def _read(fn, data, suffix):
  fd, path = tempfile.mkstemp(suffix=suffix)
  try:
    with os.fdopen(fd, 'wb') as f:
      f.write(data)
    outputs = list(fn.process(ReadableFile(FileMetadata(path, len(data)))))
  finally:
    os.unlink(path)
  messages = [o for o in outputs if not hasattr(o, 'tag')]
  dead = [o.value for o in outputs if hasattr(o, 'tag')]
  for d in dead:
    assert d['stage'] == 'read' and d['errorType'] != 'internal_error'
    assert d['sourceId'].startswith(path + ':')
  return path, messages, dead


@settings(max_examples=150, **SETTINGS)
@given(data=st.binary(max_size=400), suffix=st.sampled_from(['.jsonl', '.jsonl.gz']))
def test_jsonl_reader_on_random_bytes(data, suffix):
  path, messages, dead = _read(ReadJsonLinesFn(), data, suffix)
  if suffix == '.jsonl':
    lines = data.split(b'\n')
    if lines and lines[-1] == b'':
      lines.pop()
    assert dead == [] and len(messages) == len(lines)
    assert [m.source_id for m in messages] == [f'{path}:{i}' for i in range(1, len(lines) + 1)]
  elif data:  # random bytes are (almost) never gzip: one dead letter naming the file
    assert len(dead) + len(messages) >= 1 and len(dead) <= 1
  else:  # an empty file holds no record, compressed or not
    assert dead == [] and messages == []


@settings(max_examples=150, **SETTINGS)
@given(data=st.binary(max_size=400))
def test_csv_reader_on_random_bytes(data):
  path, messages, dead = _read(ReadCsvFn(CsvFormat(header=True)), data, '.csv')
  assert len(dead) <= 1
  numbers = [int(m.source_id.rsplit(':', 1)[1]) for m in messages]
  assert numbers == sorted(set(numbers))  # each record once, in order


def _avro_file(n):
  buf = io.BytesIO()
  fastavro.writer(buf, fastavro.parse_schema(AVRO_SCHEMA),
                  [{'id': i, 'name': 'x' * (i % 7), 'amount': None, 'ts': i, 'ok': True}
                   for i in range(n)], sync_interval=64)
  return buf.getvalue()


@settings(max_examples=150, **SETTINGS)
@given(n=st.integers(0, 40), cut=st.integers(0, 10000), flip=st.lists(
    st.tuples(st.integers(0, 10000), st.integers(1, 255)), max_size=3))
def test_avro_reader_on_damaged_files(n, cut, flip):
  data = bytearray(_avro_file(n))
  for position, mask in flip:
    data[position % len(data)] ^= mask
  data = bytes(data[:cut]) if cut < len(data) else bytes(data)
  path, messages, dead = _read(ReadAvroFn(), data, '.avro')
  assert len(dead) <= 1 + len(messages)  # unencodable records are per record
  numbers = [int(m.source_id.rsplit(':', 1)[1]) for m in messages]
  assert numbers == list(range(1, len(numbers) + 1))
  if not flip and cut >= len(_avro_file(n)):
    assert len(messages) == n and dead == []


@settings(max_examples=100, **SETTINGS)
@given(data=st.binary(max_size=600), prefix=st.booleans())
def test_typed_readers_on_random_bytes(data, prefix):
  if prefix:
    data = b'PAR1' + data + b'PAR1'
  for fn, suffix in ((ReadParquetFn(), '.parquet'),
                     (ReadAvroFn(), '.avro')):
    _, messages, dead = _read(fn, data, suffix)
    assert messages == [] and len(dead) == 1  # not readable at all: reported, not skipped
    assert dead[0]['errorType'] == 'unreadable_file'
