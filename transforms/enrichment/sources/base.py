"""The lookup-source interface."""


class LookupSourceError(Exception):
  """A lookup table could not be read; the message names the source and the record."""


class LookupSource:
  """Base of every lookup source: ``read()`` yields dict records in a stable order."""

  def read(self):
    raise NotImplementedError

  def describe(self):
    """A short human-readable name for errors and logs (never credentials)."""
    raise NotImplementedError
