"""Pattern redaction for text the policy cannot address: unparseable payloads, error messages.

``redact_patterns(text)`` replaces e-mail addresses (``[EMAIL]``), IBANs with a valid
mod-97 checksum (``[IBAN]``), card numbers of 13-19 digits passing the Luhn check
(``[CARD]``), IPv4 and IPv6 addresses (``[IP]``) and phone numbers (``[PHONE]``: a ``+``
international number, or a run of 7-15 digits with optional separators that is not a
date, time or plain decimal). Patterns find *shaped* personal data only: a name, a city or
a customer id in free text is not found. That is why ``mask`` mode also scrubs values by
their JSON key (see ``scrub_json_text``), and why ``drop`` mode exists.
"""

import ipaddress
import re

_EMAIL = re.compile(r'[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}')
_IBAN = re.compile(r'\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b')
_CARD = re.compile(r'(?<![\w.])\d(?:[ \-]?\d){12,18}(?![\w.])')
_IPV4 = re.compile(r'(?<![\w.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)'
                   r'(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\w.])')
_IPV6_CANDIDATE = re.compile(r'(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}'
                             r'(?:%\w+)?(?![\w:])')
_PHONE = re.compile(r'(?<![\w.+\-])(?:\+|00)?\(?\d[\d \-().\/]{5,}\d(?![\w])')
_DATE_LIKE = re.compile(r'^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}$')
_DECIMAL = re.compile(r'^-?\d+\.\d+$')


def _luhn_ok(digits):
  total = 0
  for i, ch in enumerate(reversed(digits)):
    d = ord(ch) - 48
    if i % 2:
      d *= 2
      if d > 9:
        d -= 9
    total += d
  return total % 10 == 0


def _iban_ok(text):
  compact = text.replace(' ', '')
  if not 15 <= len(compact) <= 34:
    return False
  moved = compact[4:] + compact[:4]
  digits = ''.join(str(int(c, 36)) for c in moved)
  return int(digits) % 97 == 1


def _card(match):
  digits = re.sub(r'\D', '', match.group(0))
  return '[CARD]' if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def _iban(match):
  return '[IBAN]' if _iban_ok(match.group(0)) else match.group(0)


def _ipv6(match):
  text = match.group(0)
  if text.count(':') < 2:
    return text
  try:
    ipaddress.IPv6Address(text.split('%')[0])
  except ValueError:
    return text
  return '[IP]'


def _phone(match):
  text = match.group(0)
  digits = sum(c.isdigit() for c in text)
  if not 7 <= digits <= 15:
    return text
  if not text.startswith(('+', '00')) and (_DATE_LIKE.match(text) or _DECIMAL.match(text)):
    return text
  return '[PHONE]'


def redact_patterns(text):
  """``text`` with e-mails, IBANs, card numbers, IP addresses and phone numbers replaced."""
  if not text:
    return text
  text = _EMAIL.sub('[EMAIL]', text)
  text = _IBAN.sub(_iban, text)
  text = _CARD.sub(_card, text)
  text = _IPV6_CANDIDATE.sub(_ipv6, text)
  text = _IPV4.sub('[IP]', text)
  return _PHONE.sub(_phone, text)


# A Python repr of a string, as quoted by validation messages (maybe truncated with '...',
# possibly right after a backslash: a lone backslash before '...' ends the literal too).
# No length bound: with one, a quoted value longer than the bound was skipped and the quotes
# paired across values (``['<70 chars>', 'Jane Doe']`` left ``Jane Doe`` unquoted).
_QUOTED = re.compile(r"""'(?:[^'\\\n]|\\(?=\.\.\.)|\\[^\n])*?(?:'|\.\.\.)"""
                     r"""|"(?:[^"\\\n]|\\(?=\.\.\.)|\\[^\n])*?(?:"|\.\.\.)""")


def scrub_message(text, values=()):
  """An error message or stack trace with quoted values, known payload values and patterned
  personal data removed.

  ``values`` are raw values from the payload (strings of 3+ characters) that must not
  survive; each is removed verbatim and in the truncated ``repr`` form validation uses.
  """
  if not text:
    return text
  for value in sorted(values, key=len, reverse=True):
    if value in text:
      text = text.replace(value, '[REDACTED]')
    shown = repr(value)[1:40]
    if len(shown) >= 3 and shown in text:
      text = text.replace(shown, '[REDACTED]')
  text = _QUOTED.sub("'[REDACTED]'", text)
  return redact_patterns(text)


# Tokens of JSON-like text: a key ("name":), a string (maybe unterminated), a number, a word,
# a bracket.
_JSON_TOKEN = re.compile(
    r'"(?P<key>(?:[^"\\]|\\.)*)"\s*:'
    r'|"(?P<str>(?:[^"\\]|\\.)*)(?P<end>"|$)'
    r'|(?P<num>-?\d[\d.eE+\-]*)'
    r'|(?P<open>[\[{])|(?P<close>[\]}])'
    r'|(?P<word>[^\s\[\]{}:,"]+)')
# The path of a value whose place cannot be told (a value where a key should be): kept nowhere.
_NOWHERE = '\x00'
_NOT_KEPT = object()


def looks_like_json(text):
  head = text.lstrip()[:1]
  return head in ('{', '[')


def scrub_json_text(text, kept_paths, subject_key=None, erase_ids=None, known_paths=None):
  """Scrubs JSON-like text that could not be parsed (truncated JSON, invalid UTF-8...).

  Every string, number and bare word is replaced by ``"[REDACTED]"`` unless its place (the
  keys of the objects around it, arrays being transparent, as a lower-case dotted path)
  is in ``kept_paths`` (``{path: check}``; ``check(text)`` says whether the value is one the
  field keeps, None: any) and it is complete (a string cut by the end of the text is not
  kept); kept values still go through ``redact_patterns``. Keys are kept,
  unless ``known_paths`` is given: then a key whose path is not in it (a field the schema
  does not know, whose name is input too) becomes ``"[REDACTED]"``.

  Returns ``(scrubbed text, erased)``: ``erased`` is True when a value under the key
  ``subject_key`` (a lower-case leaf name) is in ``erase_ids``.
  """
  out = []
  pos = 0
  stack = []  # ('{', path of the object) or ('[', path of its elements)
  current = ''  # the path of the next value ('' = the top level), None = no place

  def after_value():
    return stack[-1][1] if stack and stack[-1][0] == '[' else None

  erased = False
  for match in _JSON_TOKEN.finditer(text):
    out.append(text[pos:match.start()])
    pos = match.end()
    out.append(match.group(0))
    key = match.group('key')
    if key is not None:
      parent = stack[-1][1] if stack and stack[-1][0] == '{' else _NOWHERE
      current = (parent + '.' if parent else '') + key.lower()
      if known_paths is not None and current not in known_paths:
        out[-1] = '"[REDACTED]"' + match.group(0)[len(key) + 2:]
      continue
    bracket = match.group('open')
    if bracket is not None:
      stack.append((bracket, _NOWHERE if current is None else current))
      current = stack[-1][1] if bracket == '[' else None
      continue
    if match.group('close') is not None:
      if stack:
        stack.pop()
      current = after_value()
      continue
    out.pop()
    literal = match.group('str')
    if literal is None:
      literal = match.group('num') or match.group('word')
      if literal in ('true', 'false', 'null'):
        out.append(literal)
        current = after_value()
        continue
    if (erase_ids and subject_key is not None and current
        and current.rsplit('.', 1)[-1] == subject_key and literal in erase_ids):
      erased = True
    # An unterminated string was cut: what it was (a STRING, or a name inside an object
    # that a kept STRING cannot hold) cannot be told, so it is not kept.
    cut = match.group('str') is not None and not match.group('end')
    check = kept_paths.get(current, _NOT_KEPT) if current is not None else _NOT_KEPT
    keep = not cut and check is not _NOT_KEPT and (check is None or check(literal))
    out.append(match.group(0) if keep else '"[REDACTED]"')
    current = after_value()
  out.append(text[pos:])
  return redact_patterns(''.join(out)), erased
