"""Writes the bundled sample events: deterministic (seeded), with PII and some bad records.

    python samples/generate_events.py --count 3000 --out samples/events.jsonl

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


def good_event(rng, i, seconds_apart=7):
  country = rng.choice(COUNTRIES)
  user_id = f'u{rng.randrange(1, 400):04d}'
  when = START + datetime.timedelta(seconds=i * seconds_apart + rng.randrange(0, 5))
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


def bad_line(rng, i, kind, seconds_apart=7):
  event = good_event(rng, i, seconds_apart)
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


def generate(count, seed=20261126, bad_every=25, seconds_apart=7):
  """``count`` event lines; event ``i`` happens ``i * seconds_apart`` seconds (+ 0-4 s) after
  START (7 s: the samples; a fraction of a second: many events per minute)."""
  rng = random.Random(seed)
  lines = []
  for i in range(count):
    if i % bad_every == bad_every - 1:
      kind = BAD_KINDS[(i // bad_every) % len(BAD_KINDS)]
      lines.append(bad_line(rng, i, kind, seconds_apart))
    else:
      lines.append(json.dumps(good_event(rng, i, seconds_apart), ensure_ascii=False)
                   .encode('utf-8'))
  return lines


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--count', type=int, default=3000)
  parser.add_argument('--seed', type=int, default=20261126)
  parser.add_argument('--out', default='samples/events.jsonl')
  args = parser.parse_args()
  with open(args.out, 'wb') as f:
    for line in generate(args.count, args.seed):
      f.write(line + b'\n')


if __name__ == '__main__':
  main()
