"""Runnable pipelines: options -> typed config -> build_pipeline(p, cfg)."""
