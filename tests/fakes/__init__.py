"""Fakes of outside services that speak their real wire protocol, for tests, benchmarks and the
local demo. Under ``tests/``, so never packaged nor copied into the production image."""
