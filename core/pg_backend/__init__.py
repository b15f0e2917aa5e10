"""Django's PostgreSQL backend with a health check that costs no round trip on a quiet socket
(``ENGINE`` of every PostgreSQL database; see :mod:`core.pg_backend.base`)."""
