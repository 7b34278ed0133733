"""The runtime's settings: :class:`RuntimeConfig`.

Theory of operation
-------------------
One frozen record says how the runtime drives an adapter: its
concurrency bounds, the weight budget, the retry backoff
(:meth:`RuntimeConfig.backoff`), the periods of the on-demand and fill
syncs, and the shutdown. It checks its values when built, so a runtime never
starts with a setting it cannot honour.

The request policies (backoffs, the safety reserve of the weight budget, the
headroom gate) are the ``runtime`` section of the configuration file
(:class:`~lifecycle.config.model.RuntimePolicyConfig`). They travel in
:attr:`RuntimeConfig.policies`; left unset, the runtime takes the section of
its engine's configuration, so a configuration file reaches the runtime
without the embedding code copying it over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lifecycle.config.model import LifecycleConfig, RuntimePolicyConfig

__all__ = ["RuntimeConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RuntimeConfig:
    """How the runtime drives the adapter.

    Attributes:
        event_buffer: Not used any more: the runtime hands each event to the
            engine as the adapter yields it, with no buffer between them (the
            field stays so that code setting it keeps working).
        max_in_flight: Requests outstanding at once (batches, queries, syncs).
        weight_per_min: Request weight allowed per rolling minute (Hyperliquid
            allows 1200 per IP); requests wait for budget rather than be refused.
        retry_initial_s: First backoff after a rate-limit refusal or an ambiguous outcome.
        retry_max_s: Longest backoff.
        retry_factor: Growth of the backoff per attempt.
        max_attempts: Attempts per command (the first included) before the
            runtime leaves it to the engine's timers.
        sync_min_gap_s: Least time between two on-demand safety syncs.
        fill_sync_interval_s: Period of the fill-history fetch (adapters offering
            :class:`~lifecycle.runtime.fills.FillHistory` only).
        fill_sync_overlap_s: How far each fill fetch reaches back before the
            previous one was sent.
        cancel_all_on_shutdown: Cancel every order of ours on
            :meth:`Runtime.close <lifecycle.runtime.driver.Runtime.close>`.
        shutdown_timeout_s: Bound on the whole shutdown sequence.
        policies: The request policies (the configuration's ``runtime``
            section); None takes the engine's.
    """

    event_buffer: int = 1024
    max_in_flight: int = 8
    weight_per_min: int = 1200
    retry_initial_s: float = 0.5
    retry_max_s: float = 8.0
    retry_factor: float = 2.0
    max_attempts: int = 7
    sync_min_gap_s: float = 1.0
    fill_sync_interval_s: float = 60.0
    fill_sync_overlap_s: float = 5.0
    cancel_all_on_shutdown: bool = True
    shutdown_timeout_s: float = 120.0
    policies: RuntimePolicyConfig | None = None

    @classmethod
    def from_config(cls, config: LifecycleConfig, **settings: Any) -> RuntimeConfig:
        """A runtime configuration with ``config``'s request policies and ``settings``
        (any other field of this class, by name)."""
        return cls(policies=config.runtime, **settings)

    def __post_init__(self) -> None:
        for name in ("event_buffer", "max_in_flight", "weight_per_min", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in (
            "retry_initial_s", "retry_max_s", "sync_min_gap_s", "fill_sync_interval_s",
            "shutdown_timeout_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.retry_factor < 1:
            raise ValueError(f"retry_factor must be >= 1, got {self.retry_factor}")
        if self.fill_sync_overlap_s < 0:
            raise ValueError(f"fill_sync_overlap_s must be >= 0, got {self.fill_sync_overlap_s}")

    def safety_reserve(self, policies: RuntimePolicyConfig) -> int:
        """The weight of the budget kept for cancels under ``policies`` (< the budget)."""
        wanted = math.floor(self.weight_per_min * policies.safety_reserve_pct / 100)
        return min(wanted, self.weight_per_min - 1)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        return float(min(self.retry_initial_s * self.retry_factor ** (attempt - 1),
                         self.retry_max_s))

