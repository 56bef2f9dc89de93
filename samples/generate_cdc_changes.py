"""Writes the bundled sample change stream: Debezium (PostgreSQL connector) events of a
``customers`` table, deterministic (seeded) and shuffled, as a Debezium sink would file them.

    python samples/generate_cdc_changes.py --out samples/cdc/customers_changes.jsonl

What is in it, on purpose: a snapshot (``op: r``, every row at one LSN), creates, updates,
deletes (most with ``before: null`` as PostgreSQL's default replica identity sends them,
their key beside the value as ``{"key": ..., "value": ...}``), tombstones after deletes,
a primary-key change (delete + create), a delete then re-insert, two updates at the same
source millisecond, exact redeliveries, one ``op: m`` message, and one bad record of each
kind (truncate, malformed envelope, unknown op, delete without a key, invalid ``after``,
update without ``after``, undecodable Decimal, invalid JSON). Most events carry the
JsonConverter's ``{"schema", "payload"}`` envelope, so their Decimal, Date and
MicroTimestamp columns decode exactly; some come without it.
"""

import argparse
import base64
import json
import random

SNAPSHOT_MS = 1_780_000_000_000  # 2026-05-28
TIERS = ['free', 'plus', 'pro']
COUNTRIES = ['DE', 'FR', 'GB', 'US', 'IN', 'BR', 'JP', 'NG']

ROW_FIELDS = [
    {'type': 'int32', 'optional': False, 'field': 'id'},
    {'type': 'string', 'optional': True, 'field': 'name'},
    {'type': 'string', 'optional': True, 'field': 'email'},
    {'type': 'string', 'optional': True, 'field': 'tier'},
    {'type': 'string', 'optional': True, 'field': 'country_code'},
    {'type': 'bytes', 'optional': True, 'name': 'org.apache.kafka.connect.data.Decimal',
     'version': 1, 'parameters': {'scale': '2', 'connect.decimal.precision': '12'},
     'field': 'balance'},
    {'type': 'int32', 'optional': True, 'name': 'io.debezium.time.Date', 'version': 1,
     'field': 'birth_date'},
    {'type': 'int64', 'optional': True, 'name': 'io.debezium.time.MicroTimestamp',
     'version': 1, 'field': 'updated_at'},
]
SOURCE_FIELDS = [
    {'type': 'string', 'optional': False, 'field': 'version'},
    {'type': 'string', 'optional': False, 'field': 'connector'},
    {'type': 'string', 'optional': False, 'field': 'name'},
    {'type': 'int64', 'optional': False, 'field': 'ts_ms'},
    {'type': 'string', 'optional': True, 'name': 'io.debezium.data.Enum', 'version': 1,
     'parameters': {'allowed': 'true,last,false,incremental'}, 'default': 'false',
     'field': 'snapshot'},
    {'type': 'string', 'optional': False, 'field': 'db'},
    {'type': 'string', 'optional': False, 'field': 'schema'},
    {'type': 'string', 'optional': False, 'field': 'table'},
    {'type': 'int64', 'optional': True, 'field': 'txId'},
    {'type': 'int64', 'optional': True, 'field': 'lsn'},
]


def envelope_schema(row_fields=ROW_FIELDS):
  value = 'crm.public.customers.Value'
  return {'type': 'struct', 'optional': False, 'name': 'crm.public.customers.Envelope',
          'fields': [
              {'type': 'struct', 'fields': row_fields, 'optional': True, 'name': value,
               'field': 'before'},
              {'type': 'struct', 'fields': row_fields, 'optional': True, 'name': value,
               'field': 'after'},
              {'type': 'struct', 'fields': SOURCE_FIELDS, 'optional': False,
               'name': 'io.debezium.connector.postgresql.Source', 'field': 'source'},
              {'type': 'string', 'optional': False, 'field': 'op'},
              {'type': 'int64', 'optional': True, 'field': 'ts_ms'}]}


def decimal_b64(cents):
  size = max(1, (cents.bit_length() + 8) // 8)
  return base64.b64encode(cents.to_bytes(size, 'big', signed=True)).decode('ascii')


def customer(rng, cid, when_ms):
  return {'id': cid, 'name': f'Customer {cid}', 'email': f'customer{cid}@example.com',
          'tier': rng.choice(TIERS), 'country_code': rng.choice(COUNTRIES),
          'balance': decimal_b64(rng.randrange(-5000, 500000)),
          'birth_date': rng.randrange(-3000, 12000), 'updated_at': when_ms * 1000}


def event(op, after, before, ts_ms, lsn, snapshot='false', with_schema=True):
  payload = {'before': before, 'after': after,
             'source': {'version': '2.7.0.Final', 'connector': 'postgresql', 'name': 'crm',
                        'ts_ms': ts_ms, 'snapshot': snapshot, 'db': 'crm',
                        'schema': 'public', 'table': 'customers', 'txId': lsn // 16,
                        'lsn': lsn},
             'op': op, 'ts_ms': ts_ms + 37}
  if with_schema:
    return {'schema': envelope_schema(), 'payload': payload}
  return payload


def generate(seed=19):
  rng = random.Random(seed)
  lines = []
  # 1. The snapshot: customers 1-24, one LSN, op r ("last" on the final row).
  state = {}
  for cid in range(1, 25):
    state[cid] = customer(rng, cid, SNAPSHOT_MS)
    lines.append(event('r', state[cid], None, SNAPSHOT_MS, 24_000_000,
                       snapshot='last' if cid == 24 else 'true'))
  # 2. The stream: creates, updates, deletes at increasing LSNs.
  lsn, ts = 24_000_100, SNAPSHOT_MS + 60_000
  deleted = set()
  for step in range(120):
    lsn += rng.randrange(40, 400)
    ts += rng.randrange(200, 90_000)
    cid = rng.randrange(1, 36)
    if cid in deleted or cid not in state:
      state[cid] = customer(rng, cid, ts)
      deleted.discard(cid)
      lines.append(event('c', state[cid], None, ts, lsn))
    elif step % 9 == 4:
      deleted.add(cid)
      # PostgreSQL's default replica identity: before is null; the key rides beside.
      lines.append({'key': {'id': cid}, 'value': event('d', None, None, ts, lsn,
                                                       with_schema=False)})
      lines.append({'key': {'id': cid}, 'value': None})  # the tombstone after it
      state.pop(cid)
    else:
      row = dict(state[cid], tier=rng.choice(TIERS),
                 balance=decimal_b64(rng.randrange(-5000, 500000)), updated_at=ts * 1000)
      state[cid] = row
      lines.append(event('u', row, None, ts, lsn, with_schema=step % 5 != 0) if step % 5
                   else event('u', dict(row, balance='%d.%02d' % divmod(
                       int.from_bytes(base64.b64decode(row['balance']), 'big', signed=True),
                       100), updated_at=None), None, ts, lsn, with_schema=False))
  # 3. A primary-key change: 5 becomes 105 (Debezium: delete of the old key, create).
  lsn += 100
  ts += 1000
  if 5 in state:
    moved = dict(state.pop(5), id=105)
    lines.append(event('d', None, {'id': 5}, ts, lsn))
    lines.append(event('c', moved, None, ts, lsn + 8))
  # 4. Two updates of one customer in the same millisecond (the later LSN wins).
  twice = min(k for k in state if k > 5)
  for tier, offset in (('plus', 16), ('pro', 24)):
    state[twice] = dict(state[twice], tier=tier)
    lines.append(event('u', state[twice], None, ts + 500, lsn + offset))
  # 5. Redeliveries, a logical decoding message, and one bad record of each kind.
  lines += [lines[3], lines[30], lines[31]]
  lines.append({'op': 'm', 'ts_ms': ts, 'source': {'ts_ms': ts, 'lsn': lsn + 30},
                'message': {'prefix': 'audit', 'content': 'aGVsbG8='}})
  lines.append({'op': 't', 'ts_ms': ts, 'source': {'ts_ms': ts, 'lsn': lsn + 40}})
  lines.append({'before': None, 'after': {'id': 900}, 'source': {'ts_ms': ts}})  # no op
  lines.append({'op': 'x', 'after': {'id': 901}, 'source': {'ts_ms': ts, 'lsn': lsn + 50}})
  lines.append({'op': 'd', 'before': None, 'source': {'ts_ms': ts, 'lsn': lsn + 60}})
  lines.append(event('u', {'id': 902, 'name': 12345}, None, ts, lsn + 70, with_schema=False))
  lines.append(event('c', None, None, ts, lsn + 80, with_schema=False))
  bad_decimal = event('u', dict(customer(rng, 903, ts)), None, ts, lsn + 90)
  bad_decimal['payload']['after']['balance'] = 'not base64!'
  lines.append(bad_decimal)
  text = [json.dumps(line, separators=(',', ':')) for line in lines]
  text.append('{"op": "c", "after": {"id": 904')  # truncated JSON
  rng.shuffle(text)  # out-of-order arrival
  return text


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default='samples/cdc/customers_changes.jsonl')
  parser.add_argument('--seed', type=int, default=19)
  args = parser.parse_args(argv)
  lines = generate(args.seed)
  with open(args.out, 'w', encoding='utf-8') as f:
    f.write('\n'.join(lines) + '\n')
  print(f'wrote {len(lines)} change records to {args.out}')


if __name__ == '__main__':
  main()
