"""The Beam YAML provider spec: transform names in YAML -> the constructors in this package."""

# transform name in YAML -> importable constructor (for ``providers: - type: python``).
PROVIDER_TRANSFORMS = {
    'ReadEvents': 'transforms.beam_yaml.ReadEventsFromFiles',
    'ParseAndValidate': 'transforms.beam_yaml.ParseAndValidateRows',
    'SchemaDrift': 'transforms.beam_yaml.HandleSchemaDriftRows',
    'MaskPII': 'transforms.beam_yaml.MaskRows',
    'Enrich': 'transforms.beam_yaml.EnrichRows',
    'CheckQuality': 'transforms.beam_yaml.CheckQualityRows',
    'WriteRowsToBigQuery': 'transforms.beam_yaml.WriteRowsToBigQueryTable',
    'WriteRowsToFiles': 'transforms.beam_yaml.WriteRowsToLake',
    'MaskDeadLetters': 'transforms.beam_yaml.MaskDeadLetterRecords',
    'WriteDeadLetters': 'transforms.beam_yaml.WriteDeadLetterRecords',
    'ToJsonLines': 'transforms.beam_yaml.ToJsonLines',
}
PROVIDER_SPEC = {'type': 'python', 'transforms': dict(PROVIDER_TRANSFORMS)}
