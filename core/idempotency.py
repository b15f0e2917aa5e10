"""The seam between an Idempotency-Key and the write it guards.

An interface hands the service the key; the service calls :meth:`Idempotency.enter` first in its
own transaction (the key is claimed there, or the stored answer of an earlier request with it is
raised as :class:`Replayed`), and :meth:`Idempotency.complete` with its result as the last step,
so that the claim and the stored answer commit together with the write or not at all. What is
stored, and how a result becomes an answer, is the claim's business: the domain knows nothing of
HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from core.fast_sql import WriteBatch

ResultT_contra = TypeVar("ResultT_contra", contravariant=True)


class Replayed(Exception):
    """Raised by :meth:`Idempotency.enter` when the key already holds its answer: the service
    lets it through (its transaction rolls back, having written nothing) and the interface sends
    ``answer`` again."""

    def __init__(self, answer: Any) -> None:
        super().__init__("the Idempotency-Key holds an answer already")
        self.answer = answer


class Idempotency(Protocol[ResultT_contra]):
    """A key, entered first and completed last inside the write's transaction."""

    def enter(self) -> None:
        """Claim the key; call it first in the write's transaction. Raises :class:`Replayed`
        with the stored answer of an earlier request with the key, or the interface's refusal
        (another body, a request with the key still running)."""

    def complete(self, result: ResultT_contra) -> None:
        """Store the answer for ``result``. Raises when the claim was lost meanwhile (its lease
        ran out and a retry took the key over): the write must then roll back."""

    def complete_in(self, writes: WriteBatch, result: ResultT_contra) -> None:
        """:meth:`complete` as part of the caller's ``writes``, for a service that writes in
        one :class:`core.fast_sql.WriteBatch`: ``result`` must be final before the batch is
        sent, and the loss of the claim raises from ``writes.send()``."""
