"""Writes the bundled sample events: deterministic (seeded), with PII and some bad records.

    python samples/generate_events.py --count 3000 --out samples/events.jsonl
    python samples/generate_events.py --start now --out .demo-data/events.jsonl

The bundled file starts at 2026-11-01T00:00:00Z (tests rely on its content). ``--start now``
(what ``make run`` does) dates the events relative to the run instead, so the demo's
freshness rules hold whenever it runs: the first event at the start of the hour six hours
ago, the last one (event 3000, one every ~7 s) a few minutes before now.

About 4% of the lines are bad on purpose, one kind per line, so the demo and the tests see
every dead-letter path: malformed JSON, a missing required field, a wrong type, an
out-of-range integer, an impossible date, too many NUMERIC decimals, an invalid WKT point,
a JSON array instead of an object, invalid UTF-8 and an empty line.
"""

import argparse
import base64
import datetime
import json
import random

COUNTRIES = ['DE', 'FR', 'GB', 'US', 'IN', 'BR', 'JP', 'NG', 'ES', 'IT']
CITIES = {'DE': 'Berlin', 'FR': 'Paris', 'GB': 'London', 'US': 'Austin', 'IN': 'Pune',
          'BR': 'Recife', 'JP': 'Osaka', 'NG': 'Lagos', 'ES': 'Sevilla', 'IT': 'Torino'}
EVENT_TYPES = ['page_view', 'add_to_cart', 'purchase', 'login', 'logout']
BAD_KINDS = ['invalid_json', 'missing_required', 'wrong_type', 'int_out_of_range',
             'bad_date', 'numeric_scale', 'bad_wkt', 'not_object', 'bad_utf8', 'empty']
START = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)


def good_event(rng, i, start=START, seconds_apart=7):
  country = rng.choice(COUNTRIES)
  user_id = f'u{rng.randrange(1, 400):04d}'
  when = start + datetime.timedelta(seconds=i * seconds_apart + rng.randrange(0, 5))
  items = [{'sku': f'SKU-{rng.randrange(100, 999)}', 'qty': rng.randrange(1, 5),
            'price': f'{rng.randrange(100, 99999) / 100:.2f}'}
           for _ in range(rng.randrange(0, 4))]
  event = {
      'event_id': f'evt-{i:06d}',
      'event_type': rng.choice(EVENT_TYPES),
      'event_time': when.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z',
      'event_date': when.date().isoformat(),
      'user': {
          'id': user_id,
          'email': f'{user_id}.person{rng.randrange(10, 99)}@example.com',
          'phone': f'+49 30 {rng.randrange(1000000, 9999999)}',
          'birth_date': f'{rng.randrange(1950, 2005)}-{rng.randrange(1, 13):02d}-'
                        f'{rng.randrange(1, 29):02d}',
          'address': {'city': CITIES[country], 'country': country},
      },
      'device': {'ip': f'203.0.113.{rng.randrange(1, 255)}',
                 'user_agent': rng.choice(['Mozilla/5.0', 'curl/8.5', 'okhttp/4.12'])},
      'country_code': country,
      'amount': f'{sum(float(it["price"]) * it["qty"] for it in items):.2f}',
      'quantity': sum(it['qty'] for it in items),
      'score': round(rng.random() * 100, 3),
      'is_test': rng.random() < 0.05,
      'items': items,
      'tags': rng.sample(['new', 'returning', 'mobile', 'promo', 'vip'], rng.randrange(0, 3)),
      'properties': {'campaign': rng.choice(['autumn', 'none', 'blackfriday']),
                     'ab': rng.randrange(0, 2)},
      'location': f'POINT({rng.uniform(-10, 30):.4f} {rng.uniform(35, 60):.4f})',
      'signature': base64.b64encode(rng.randbytes(8)).decode('ascii'),
      'local_time': f'{rng.randrange(0, 24):02d}:{rng.randrange(0, 60):02d}:00',
      'session_start': when.strftime('%Y-%m-%d %H:%M:%S'),
  }
  if rng.random() < 0.1:
    del event['device']  # optional fields are sometimes absent
  return event


def bad_line(rng, i, kind, start=START, seconds_apart=7):
  event = good_event(rng, i, start, seconds_apart)
  if kind == 'invalid_json':
    return json.dumps(event)[:-7].encode('utf-8')
  if kind == 'missing_required':
    del event['user']['id']
  elif kind == 'wrong_type':
    event['quantity'] = 'three'
  elif kind == 'int_out_of_range':
    event['quantity'] = 2 ** 64
  elif kind == 'bad_date':
    event['event_date'] = '2026-02-30'
  elif kind == 'numeric_scale':
    event['amount'] = '1.0123456789012'
  elif kind == 'bad_wkt':
    event['location'] = 'POINT(200 95)'
  elif kind == 'not_object':
    return json.dumps([event['event_id'], event['user']['email']]).encode('utf-8')
  elif kind == 'bad_utf8':
    return json.dumps(event).encode('utf-8').replace(b'example', b'ex\xffample', 1)
  elif kind == 'empty':
    return b''
  return json.dumps(event).encode('utf-8')


def relative_start(now=None, hours_back=6):
  """The start of the hour ``hours_back`` hours before ``now`` (UTC)."""
  now = now or datetime.datetime.now(datetime.timezone.utc)
  return now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=hours_back)


def generate(count, seed=20261126, bad_every=25, start=START, seconds_apart=7):
  """The sample lines (bytes); the same records for every ``start``, only dated from it.
  Event ``i`` happens ``i * seconds_apart`` seconds (+ 0-4 s) after ``start`` (7 s: the
  samples; a fraction of a second: many events per minute)."""
  rng = random.Random(seed)
  lines = []
  for i in range(count):
    if i % bad_every == bad_every - 1:
      kind = BAD_KINDS[(i // bad_every) % len(BAD_KINDS)]
      lines.append(bad_line(rng, i, kind, start, seconds_apart))
    else:
      lines.append(json.dumps(good_event(rng, i, start, seconds_apart), ensure_ascii=False)
                   .encode('utf-8'))
  return lines


def write(path, count=3000, seed=20261126, start=START):
  with open(path, 'wb') as f:
    for line in generate(count, seed, start=start):
      f.write(line + b'\n')


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--count', type=int, default=3000)
  parser.add_argument('--seed', type=int, default=20261126)
  parser.add_argument('--out', default='samples/events.jsonl')
  parser.add_argument('--start', default=None,
                      help='first event time: ISO 8601, or "now" (six hours back from the '
                           'current hour); default 2026-11-01T00:00:00Z')
  args = parser.parse_args()
  if args.start is None:
    start = START
  elif args.start == 'now':
    start = relative_start()
  else:
    start = datetime.datetime.fromisoformat(args.start.replace('Z', '+00:00'))
  write(args.out, args.count, args.seed, start)


if __name__ == '__main__':
  main()
