"""The simulated bot: a runtime per life over the simulated exchange, quoting on a timer.

Theory of operation
-------------------
:class:`_Bot` builds, for each life of the bot (one, or two with a restart),
a :class:`~lifecycle.runtime.Runtime` over the simulated adapter: it quotes
every ``quote_interval_s`` from the exchange's touch, reports progress, and
injects the spec's scheduled faults due in that life. :func:`_merged` adds
the runtimes' counters up for the report; :class:`_Stopped` ends a life
abruptly.

The exchange model offers no fill-history request, so the adapter used here
adds one (:class:`_FillHistoryAdapter`, after Hyperliquid's ``userFillsByTime``):
it answers from the exchange's record of the account's trades after a REST
round trip, with the profile's timeout and server-error rates but outside the
model's rate limits.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from lifecycle.core.events import OrderFilled
from lifecycle.core.states import WORKING
from lifecycle.engine.facade import Engine
from lifecycle.policy.reconciler import Book
from lifecycle.runtime import (
    Alarm,
    FillsUnavailable,
    Runtime,
    RuntimeConfig,
    RuntimeStats,
    clock,
    sleep,
)
from lifecycle.sim.referee import _Referee
from lifecycle.sim.spec import ScheduledFault, SimulationSpec

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.simulated import (
        FaultProfile,
        SimulatedAdapter,
        SimulatedExchange,
        WsReconnected,
    )
    from adapters.simulated.wire import SERVER_ERROR, timed_out
else:
    from lifecycle.adapters.simulated import (
        FaultProfile,
        SimulatedAdapter,
        SimulatedExchange,
        WsReconnected,
    )
    from lifecycle.adapters.simulated.wire import SERVER_ERROR, timed_out

#: Share of the venue's IP weight budget the runtime allows itself: requests are
#: counted when sent, the venue counts them when they arrive, and latency jitter
#: can bunch them up.
_BUDGET_SHARE = 0.9


class _FillHistoryAdapter(SimulatedAdapter):
    """A :class:`SimulatedAdapter` that can also list the account's fills since a time.

    Stands for Hyperliquid's ``userFillsByTime``: a REST round trip (the
    profile's latency each way), answered from the exchange's record of the
    account's trades as it stands when the request arrives. Fills carry the
    cloid only when the profile's websocket fills do. The profile's
    ``timeout_rate`` and ``server_error_rate`` apply to it as to any request:
    a timeout raises :class:`~lifecycle.runtime.adapter.FillsUnavailable` after
    ``request_timeout_s``, a 5xx after the round trip.
    """

    def __init__(
        self,
        exchange: SimulatedExchange,
        *,
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        seed: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(exchange, now=now, sleep=sleep, **kwargs)
        self._wait_s = sleep
        self._latency_rng = random.Random(f"{seed}/fill-history")
        self._fault_rng = random.Random(f"{seed}/fill-history-faults")

    async def fills_since(self, start: float) -> Sequence[OrderFilled]:
        """The account's fills at or after ``start``, oldest first."""
        profile = self.exchange.profile
        draw = self._fault_rng.random()
        if draw < profile.timeout_rate:
            await self._wait_s(profile.request_timeout_s)
            self._pump()
            raise FillsUnavailable(timed_out(profile.request_timeout_s))
        await self._wait_s(profile.rest_latency.draw(self._latency_rng))
        self._pump()  # the model reaches the arrival time; what it delivers is routed
        if draw < profile.timeout_rate + profile.server_error_rate:
            await self._wait_s(profile.rest_latency.draw(self._latency_rng))
            raise FillsUnavailable(SERVER_ERROR)
        with_cloid = profile.fills_carry_cloid
        fills = [
            OrderFilled(
                cloid=f.cloid if with_cloid else None, oid=f.oid, tid=f.tid, side=f.side,
                price=f.price, size=f.size,
            )
            for f in self.exchange.truth.fills
            if f.at >= start
        ]
        await self._wait_s(profile.rest_latency.draw(self._latency_rng))
        return fills


def _runtime_config(spec: SimulationSpec, profile: FaultProfile) -> RuntimeConfig:
    """The spec's runtime configuration, or one spending a share of the profile's IP limit."""
    if spec.runtime is not None:
        return spec.runtime
    limit = profile.ip_weight_per_min
    if limit is None:
        return RuntimeConfig()
    return RuntimeConfig(weight_per_min=max(1, int(limit * _BUDGET_SHARE)))


class _Stopped(Exception):
    """Raised inside a runtime session to stop the bot abruptly."""


class _Bot:
    """The bot of one simulation: its engine, and the runtime of its current life."""

    def __init__(
        self,
        spec: SimulationSpec,
        profile: FaultProfile,
        exchange: SimulatedExchange,
        referee: _Referee,
        start: float,
    ) -> None:
        self.spec = spec
        self.profile = profile
        self.exchange = exchange
        self.referee = referee
        self.start = start
        self.stats: list[RuntimeStats] = []

    def runtime(self, engine: Engine, *, faults_from: float, faults_until: float) -> Runtime:
        """A runtime driving ``engine``, quoting, reporting progress, and injecting
        the spec's faults due in ``[faults_from, faults_until)`` (run time)."""
        spec, exchange, start = self.spec, self.exchange, self.start
        runtime: Runtime | None = None

        def reconnected(notice: WsReconnected) -> None:
            if runtime is not None:
                runtime.notify_reconnect(notice.down_since)

        adapter = _FillHistoryAdapter(
            exchange, now=clock(), sleep=sleep, seed=spec.seed, on_reconnect=reconnected,
            alarm=Alarm(),
        )
        runtime = Runtime(
            engine, adapter, _runtime_config(spec, self.profile), observer=self.referee,
            rng=random.Random(f"{spec.seed}/runtime"),
        )
        quoter = spec.quoter

        def quote(now: float) -> None:
            # With nothing of ours resting, a cycle places only as a recovery the
            # runtime allows (headroom, and not sooner than its cooldown).
            if not any(o.state in WORKING for o in engine.registry) and not (
                runtime.try_recovery(now)
            ):
                return
            # The touch a bot can know now: as it stood before this instant, whether
            # or not the model has already run a price step due now.
            bid, ask = exchange.bbo_before(now)
            quoter.quote(engine, Book(best_bid=bid, best_ask=ask, at=now), now)

        runtime.every(spec.quote_interval_s, quote)
        # Registered even without a listener: the run must not depend on whether
        # progress is shown (timers due at one instant run in an order decided by
        # every timer scheduled before).
        progress = spec.progress
        runtime.every(
            spec.progress_interval_s,
            lambda now: progress(now - start, spec.duration_s) if progress is not None else None,
        )
        for fault in spec.schedule:
            if faults_from <= fault.at_s < faults_until:
                runtime.call_at(start + fault.at_s, _injector(fault, exchange))
        self.stats.append(runtime.stats)
        return runtime


def _merged(stats: Sequence[RuntimeStats]) -> RuntimeStats:
    """The counters of the bot's runtimes (one per life), added up."""
    total = RuntimeStats()
    for one in stats:
        for f in dataclasses.fields(RuntimeStats):
            setattr(total, f.name, getattr(total, f.name) + getattr(one, f.name))
    return total


def _injector(fault: ScheduledFault, exchange: SimulatedExchange) -> Callable[[float], None]:
    """The timer callback that injects ``fault`` into ``exchange``."""

    def inject(now: float) -> None:
        fault.inject(exchange, now)

    return inject
