"""generalize: replace a value by a coarser one.

- DATE / DATETIME / TIMESTAMP, ``to: month`` or ``to: year``: the first day of the month or
  year, as a DATE (``1990-11-10`` -> ``1990-11-01`` or ``1990-01-01``; TIMESTAMPs in UTC).
  Output type: DATE.
- STRING holding an IP address, ``to: network``: the network address with its prefix,
  ``ipv4_prefix`` (default 24) and ``ipv6_prefix`` (default 48):
  ``203.0.113.77`` -> ``203.0.113.0/24``, ``2001:db8:1:2::7`` -> ``2001:db8:1::/48``.
  A value that is not an IP address becomes NULL (it cannot be generalised safely).
  Output type: STRING, NULLABLE.
- INT64 / FLOAT64 / NUMERIC / BIGNUMERIC, ``to: bucket`` with ``size``: the lower bound of
  the value's bucket, ``floor(value / size) * size``, in the column's own type
  (``37`` with size 10 -> ``30``).
"""

import dataclasses
import decimal
import ipaddress
import math

from beam_pipelines.transforms.masking.methods.common import DATE_TYPES, NUMERIC_TYPES, check_params, int_param

NAME = 'generalize'
KEYED = False


def validate(params, spec, path):
  to = params.get('to')
  if spec.type in DATE_TYPES:
    check_params(params, ('to',), path, NAME)
    if to not in ('month', 'year'):
      raise ValueError(f'{path}: generalize of a {spec.type} needs to: month or to: year, '
                       f'got {to!r}')
    return {'to': to}
  if spec.type == 'STRING':
    check_params(params, ('to', 'ipv4_prefix', 'ipv6_prefix'), path, NAME)
    if to != 'network':
      raise ValueError(f'{path}: generalize of a STRING needs to: network (IP addresses), '
                       f'got {to!r}')
    return {'to': 'network',
            'ipv4_prefix': int_param(params, 'ipv4_prefix', path, 24, 0, 32),
            'ipv6_prefix': int_param(params, 'ipv6_prefix', path, 48, 0, 128)}
  if spec.type in NUMERIC_TYPES:
    check_params(params, ('to', 'size'), path, NAME)
    if to != 'bucket':
      raise ValueError(f'{path}: generalize of a {spec.type} needs to: bucket, got {to!r}')
    size = params.get('size')
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not size > 0 or (
        spec.type == 'INT64' and not isinstance(size, int)) or not math.isfinite(size):
      raise ValueError(f'{path}: parameter size must be a positive number'
                       f'{" (an integer for INT64)" if spec.type == "INT64" else ""}, '
                       f'got {size!r}')
    return {'to': 'bucket', 'size': size}
  raise ValueError(f'{path}: generalize does not apply to {spec.type} fields '
                   f'(dates, timestamps, IP address strings and numbers only)')


def output_field(spec, params):
  if params['to'] in ('month', 'year'):
    return dataclasses.replace(spec, type='DATE', description=f'generalized to {params["to"]}')
  if params['to'] == 'network':
    return dataclasses.replace(spec, mode='NULLABLE' if spec.required else spec.mode,
                               max_length=None,
                               description='generalized to IP network (NULL if not an IP)')
  mode = 'NULLABLE' if spec.type == 'FLOAT64' and spec.required else spec.mode  # NaN -> NULL
  return dataclasses.replace(spec, mode=mode,
                             description=f'generalized to buckets of {params["size"]}')


def compile(spec, params, keys):  # pylint: disable=redefined-builtin
  to = params['to']
  if to == 'month':
    # Validated DATE/DATETIME/TIMESTAMP values all start with YYYY-MM-DD (TIMESTAMP in UTC).
    def to_month(value):
      if value[4] != '-' or value[7] != '-':
        raise ValueError('not a date')
      return value[:7] + '-01'
    return to_month
  if to == 'year':
    def to_year(value):
      if value[4] != '-' or not value[:4].isdigit():
        raise ValueError('not a date')
      return value[:4] + '-01-01'
    return to_year
  if to == 'network':
    prefix4, prefix6 = params['ipv4_prefix'], params['ipv6_prefix']
    ip_address = ipaddress.ip_address
    ip_network = ipaddress.ip_network
    mask4 = (0xFFFFFFFF << (32 - prefix4)) & 0xFFFFFFFF
    suffix4 = f'/{prefix4}'

    def to_network(value):
      parts = value.split('.')
      if len(parts) == 4 and all(p.isdigit() and p.isascii() and len(p) <= 3
                                 and (p == '0' or p[0] != '0') for p in parts):
        # IPv4 fast path (a third of ipaddress' cost); same result, leading zeros refused.
        a, b, c, d = (int(p) for p in parts)
        if a < 256 and b < 256 and c < 256 and d < 256:
          n = ((a << 24) | (b << 16) | (c << 8) | d) & mask4
          return f'{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}{suffix4}'
        return None
      try:
        address = ip_address(value.strip())
      except ValueError:
        return None
      prefix = prefix4 if address.version == 4 else prefix6
      return str(ip_network(f'{address}/{prefix}', strict=False))
    return to_network
  size = params['size']
  if spec.type == 'INT64':
    return lambda value: (int(value) // size) * size
  if spec.type == 'FLOAT64':
    def float_bucket(value):
      number = float(value)
      return float(math.floor(number / size) * size) if math.isfinite(number) else None
    return float_bucket
  step = decimal.Decimal(str(size))

  def decimal_bucket(value):
    number = decimal.Decimal(str(value))
    if not number.is_finite():
      raise ValueError('not a finite number')
    bucket = (number / step).to_integral_value(rounding=decimal.ROUND_FLOOR) * step
    text = format(bucket, 'f')
    return '0' if text in ('-0', '0') else text
  return decimal_bucket
