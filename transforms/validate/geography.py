"""A small Well-Known Text checker for GEOGRAPHY values.

It answers one question before the sink does: would BigQuery parse this WKT? It checks the
grammar (POINT, LINESTRING, POLYGON, the MULTI forms, GEOMETRYCOLLECTION, EMPTY, Z/M/ZM
coordinates), that longitudes lie in [-180, 180] and latitudes in [-90, 90], that a
LINESTRING has two points and that polygon rings are closed with four points. It does not
check ring orientation or self-intersection (BigQuery repairs or rejects those itself).
"""

import math
import re

_TOKEN = re.compile(r'\s*(\(|\)|,|[A-Za-z]+|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)')
_TYPES = {'POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING',
          'MULTIPOLYGON', 'GEOMETRYCOLLECTION'}
MAX_LENGTH = 10 * 1024 * 1024


class _Bad(Exception):
  pass


# The commonest value, a plain POINT with ASCII decimals, checked without tokenizing; any
# other text (or a point out of range) takes the general parser, so results are identical.
_SIMPLE_POINT = re.compile(r'POINT ?\(([-+]?[0-9]+(?:\.[0-9]*)?) ([-+]?[0-9]+(?:\.[0-9]*)?)\)\Z')


def problem(text):
  """None when ``text`` is acceptable WKT, else a short reason."""
  simple = _SIMPLE_POINT.match(text)
  if simple and -180 <= float(simple.group(1)) <= 180 and -90 <= float(simple.group(2)) <= 90:
    return None
  if len(text) > MAX_LENGTH:
    return 'WKT text too long'
  try:
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    parser.geometry(depth=0)
    if parser.pos != len(tokens):
      raise _Bad(f'unexpected {tokens[parser.pos]!r} after the geometry')
  except _Bad as e:
    return str(e)
  return None


def _tokenize(text):
  tokens = []
  pos = 0
  text = text.rstrip()
  while pos < len(text):
    match = _TOKEN.match(text, pos)
    if not match:
      raise _Bad(f'unexpected character {text[pos:pos + 1]!r} at {pos}')
    tokens.append(match.group(1))
    pos = match.end()
  if not tokens:
    raise _Bad('empty text')
  return tokens


class _Parser:
  def __init__(self, tokens):
    self.tokens = tokens
    self.pos = 0
    self.dims = None

  def peek(self):
    return self.tokens[self.pos] if self.pos < len(self.tokens) else None

  def take(self, expected=None):
    token = self.peek()
    if token is None:
      raise _Bad('text ends too early')
    if expected is not None and token.upper() != expected:
      raise _Bad(f'expected {expected!r}, found {token!r}')
    self.pos += 1
    return token

  def geometry(self, depth):
    if depth > 32:
      raise _Bad('geometry collections nested too deeply')
    kind = self.take().upper()
    if kind not in _TYPES:
      raise _Bad(f'unknown geometry type {kind!r}')
    modifier = (self.peek() or '').upper()
    if modifier in ('Z', 'M', 'ZM'):
      self.take()
    if (self.peek() or '').upper() == 'EMPTY':
      self.take()
      return
    if kind == 'POINT':
      self.take('(')
      self.point()
      self.take(')')
    elif kind == 'LINESTRING':
      self.line(ring=False)
    elif kind == 'POLYGON':
      self.polygon()
    elif kind == 'MULTIPOINT':
      self._list(self._multipoint_member)
    elif kind == 'MULTILINESTRING':
      self._list(lambda: self.line(ring=False))
    elif kind == 'MULTIPOLYGON':
      self._list(self.polygon)
    else:
      self._list(lambda: self.geometry(depth + 1))

  def _list(self, item):
    self.take('(')
    item()
    while self.peek() == ',':
      self.take()
      item()
    self.take(')')

  def _multipoint_member(self):
    # Both MULTIPOINT(1 2, 3 4) and MULTIPOINT((1 2), (3 4)) are valid.
    if self.peek() == '(':
      self._list(self.point)
    else:
      self.point()

  def point(self):
    coords = []
    while self.peek() not in (None, ',', ')', '('):
      token = self.take()
      try:
        coords.append(float(token))
      except ValueError:
        raise _Bad(f'expected a coordinate, found {token!r}') from None
    if not 2 <= len(coords) <= 4:
      raise _Bad(f'a point needs 2 to 4 coordinates, found {len(coords)}')
    lon, lat = coords[0], coords[1]
    if not all(math.isfinite(c) for c in coords):
      raise _Bad('non-finite coordinate')
    if not -180 <= lon <= 180 or not -90 <= lat <= 90:
      raise _Bad(f'point ({lon} {lat}) is outside longitude [-180,180] / latitude [-90,90]')
    return (lon, lat)

  def line(self, ring):
    points = []
    self._list(lambda: points.append(self.point()))
    if len(points) < 2:
      raise _Bad('a linestring needs at least 2 points')
    if ring and (len(points) < 4 or points[0] != points[-1]):
      raise _Bad('a polygon ring needs at least 4 points and must be closed')

  def polygon(self):
    self._list(lambda: self.line(ring=True))
