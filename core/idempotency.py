"""The seam between an Idempotency-Key and the write it guards.

An interface claims the key first, in a short transaction of its own, so that concurrent retries
see the claim at once. It then calls the service with the claim; the service calls
:meth:`Idempotency.complete` with its result as the last step of its own transaction, so that
the stored answer commits together with the write or not at all. What is stored, and how a
result becomes an answer, is the claim's business: the domain knows nothing of HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from core.fast_sql import WriteBatch

ResultT_contra = TypeVar("ResultT_contra", contravariant=True)


class Idempotency(Protocol[ResultT_contra]):
    """A claimed key, to be completed with the write's result inside the write's transaction."""

    def complete(self, result: ResultT_contra) -> None:
        """Store the answer for ``result``. Raises when the claim was lost meanwhile (its lease
        ran out and a retry took the key over): the write must then roll back."""

    def complete_in(self, writes: WriteBatch, result: ResultT_contra) -> None:
        """:meth:`complete` as part of the caller's ``writes``, for a service that writes in
        one :class:`core.fast_sql.WriteBatch`: ``result`` must be final before the batch is
        sent, and the loss of the claim raises from ``writes.send()``."""
