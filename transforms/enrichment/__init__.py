"""Enrichment: join rows with a lookup table held as a side input (``EnrichWithSideInput``).

- ``transform``: the PTransform and ``enriched_schema``.
- ``config``: ``EnrichmentConfig`` (keys, fields, policies, refresh) and the lookup index.
- ``join``: the join DoFns per mode (broadcast, keyed, refreshed).
- ``worker_refresh``: the worker refresh's per-process lookup holder.
- ``sources``: one lookup source per module (files, BigQuery), as in Beam's
  ``enrichment_handlers``; ``sources.spec`` reads the ``--enrichment_source`` text form.
"""

from beam_pipelines.transforms.enrichment.config import (COLLISION_POLICIES, DEFAULT_REFRESH_HORIZON_SECONDS,
                                          DUPLICATE_POLICIES, MISSING_POLICIES, MODES,
                                          REFRESH_STRATEGIES, REFRESH_TIMES, EnrichmentConfig,
                                          build_index)
from beam_pipelines.transforms.enrichment.sources import (BigQueryLookupSource, FileLookupSource, LookupSource,
                                           LookupSourceError)
from beam_pipelines.transforms.enrichment.sources.spec import parse_source
from beam_pipelines.transforms.enrichment.transform import EnrichWithSideInput, enriched_schema

__all__ = ['BigQueryLookupSource', 'COLLISION_POLICIES', 'DEFAULT_REFRESH_HORIZON_SECONDS',
           'DUPLICATE_POLICIES', 'EnrichWithSideInput', 'EnrichmentConfig', 'FileLookupSource',
           'LookupSource', 'LookupSourceError', 'MISSING_POLICIES', 'MODES',
           'REFRESH_STRATEGIES', 'REFRESH_TIMES',
           'build_index', 'enriched_schema', 'parse_source']
