"""The ground floor every app stands on: errors and their problem+json mapping, the request
context, JSON logging, the in-process breaker and the degrading shared-cache helpers.

Nothing here imports a module of ours outside ``core`` (the import-layer test checks it)."""
