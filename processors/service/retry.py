"""The worker's retry policy and its one retry loop.

``Backoff``: exponential delays with jitter, capped; a server's Retry-After wins when longer.
``Retrier``: call until the call stops raising the transient error, backing off in between,
saying what it waits for (the batch is held, offsets not committed) and counting it.
``Once``: a step's preparation (an index in place), retried until done, then never again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport

__all__ = ["Backoff", "Once", "Retrier"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Backoff:
    """Exponential delays with jitter, capped; a server's Retry-After wins when longer."""

    def __init__(self, *, first_s: float = 0.5, max_s: float = 30.0, factor: float = 2.0) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self.factor = factor

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        base = min(self.max_s, self.first_s * self.factor ** max(attempt - 1, 0))
        jittered = base * random.uniform(0.5, 1.0)
        if retry_after is not None:
            jittered = max(jittered, min(retry_after, self.max_s))
        return jittered


class Retrier:
    def __init__(
        self,
        backoff: Backoff,
        metrics: ProcessorMetrics,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._backoff = backoff
        self._metrics = metrics
        self._sleep = sleep

    async def until_done(
        self,
        target: str,
        what: str | Callable[[], str],
        call: Callable[[], Awaitable[T]],
        transient: type[Exception],
        report: BatchReport | None = None,
    ) -> T:
        """``call`` until it does not raise ``transient``, backing off in between. ``what``
        (text, or a function when the call narrows what is left to do) describes what is
        waited for; ``target`` names the system ("elasticsearch", "kafka")."""
        attempt = 0
        doing = ""
        while True:
            try:
                result = await call()
            except transient as exc:
                attempt += 1
                doing = what if isinstance(what, str) else what()
                await self._wait(target, doing, exc, attempt, report)
                continue
            if attempt:
                self._metrics.waiting.labels(target).set(0)
                logger.info("%s answered after retries=%d: %s", target, attempt, doing)
            return result

    async def _wait(
        self, target: str, what: str, exc: Exception, attempt: int, report: BatchReport | None
    ) -> None:
        retry_after = getattr(exc, "retry_after", None)
        delay = self._backoff.delay(attempt, retry_after)
        self._metrics.waiting.labels(target).set(1)
        self._metrics.retries.labels(target).inc()
        if report is not None:
            report.retries += 1
        logger.warning(
            "waiting for %s: %s failed (%s); batch held, offsets not committed; retry %d in %.1fs",
            target,
            what,
            exc,
            attempt,
            delay,
        )
        await self._sleep(delay)


class Once:
    """A preparation run through the retrier until it succeeds, and then never again;
    callers that come while it runs wait for it (one lock, so two batches never prepare the
    same index at once)."""

    def __init__(self, retrier: Retrier, target: str, what: str,
                 call: Callable[[], Awaitable[object]], transient: type[Exception]) -> None:
        self._retrier = retrier
        self._target = target
        self._what = what
        self._call = call
        self._transient = transient
        self._done = False
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            if self._done:
                return
            await self._retrier.until_done(self._target, self._what, self._call,
                                           self._transient)
            self._done = True
