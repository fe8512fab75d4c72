"""Provider protocol code: one module per API, each sans-IO, none importing OpenTelemetry."""
