"""Orders of ours left on the book: the shutdown cancel-all and the startup sweep.

At shutdown (``cancel_all``) and at startup (``runtime.startup_cancel_all``) every
order of our coin the exchange lists is cancelled when it carries our namespace,
or whatever it carries unless ``orders.orphan_policy`` is ``ignore``.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from lifecycle.adapters.simulated import Owner, SimulatedAdapter, SimulatedExchange

from lifecycle.config import LifecycleConfig, OrdersConfig, OrphanPolicy
from lifecycle.config.model import RuntimePolicyConfig
from lifecycle.core.ids import CloidFactory
from lifecycle.core.order import Side
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine
from lifecycle.runtime import Runtime, current_time, run_virtual, sleep
from lifecycle.sim.harness import QUIET_MARKET, RuntimeHarness

S = OrderState


def config(policy: OrphanPolicy, *, grace_s: float = 5.0, startup: bool = False) -> LifecycleConfig:
    return LifecycleConfig(
        orders=OrdersConfig(orphan_policy=policy, orphan_grace_s=grace_s),
        runtime=RuntimePolicyConfig(startup_cancel_all=startup),
    )


def seed(h: RuntimeHarness, owner: Owner, cloids: CloidFactory | None, level: int) -> None:
    """Rest an order placed before this run (or by someone else) on the book now."""
    cloid = None if cloids is None else cloids.next()
    h.exchange.venue.seed_order(cloid, owner, Side.BUY, level, h.now)


def test_shutdown_cancels_an_earlier_runs_order_still_inside_its_grace() -> None:
    # The grace outlasts the whole shutdown: the order is a candidate at close.
    with RuntimeHarness(config(OrphanPolicy.ADOPT, grace_s=600.0)) as h:
        seed(h, Owner.PREVIOUS_RUN, CloidFactory("harness", run_id=0), 0)
        h.run_until(lambda: any(o.state is S.ORPHAN_CANDIDATE for o in h.engine.registry))
        mine = h.place()
        h.run_until(lambda: mine.state is S.TRACKED)
        # Listed by no snapshot yet: unknown to the engine at close.
        seed(h, Owner.PREVIOUS_RUN, CloidFactory("harness", run_id=7), 1)
        h.close(cancel_all=True)
        assert h.exchange.truth.resting() == ()
        assert all(o.state is S.GONE for o in h.engine.registry)


def test_shutdown_cancels_an_order_no_snapshot_listed_before_close() -> None:
    with RuntimeHarness(config(OrphanPolicy.ADOPT, grace_s=600.0)) as h:
        h.run_for(1.0)
        seed(h, Owner.PREVIOUS_RUN, CloidFactory("harness", run_id=0), 0)
        assert len(h.engine.registry) == 0  # unknown to the engine at close
        h.close(cancel_all=True)
        assert h.exchange.truth.resting() == ()


def test_shutdown_under_ignore_leaves_foreign_orders_alone() -> None:
    with RuntimeHarness(config(OrphanPolicy.IGNORE, grace_s=600.0)) as h:
        seed(h, Owner.PREVIOUS_RUN, CloidFactory("harness", run_id=0), 0)
        seed(h, Owner.FOREIGN, CloidFactory("another-bot", run_id=3), 1)
        seed(h, Owner.FOREIGN, None, 2)
        h.run_until(lambda: len(h.engine.registry) == 3)
        h.close(cancel_all=True)
        assert h.exchange.truth.resting(Owner.PREVIOUS_RUN) == ()
        assert len(h.exchange.truth.resting(Owner.FOREIGN)) == 2


def test_shutdown_under_adopt_cancels_foreign_orders_too() -> None:
    with RuntimeHarness(config(OrphanPolicy.ADOPT, grace_s=600.0)) as h:
        seed(h, Owner.FOREIGN, CloidFactory("another-bot", run_id=3), 0)
        seed(h, Owner.FOREIGN, None, 1)
        h.run_until(lambda: len(h.engine.registry) == 2)
        h.close(cancel_all=True)
        assert h.exchange.truth.resting() == ()


def startup(policy: OrphanPolicy, *, sweep: bool) -> tuple[int, int, int]:
    """Start a runtime on a book holding 3 orders of an earlier run and 2 foreign ones;
    place one order as soon as the session yields. Returns what of the earlier run's
    and the foreign orders rested when the session yielded, and then at the end."""

    async def main() -> tuple[int, int, int]:
        exchange = SimulatedExchange(
            1, "none", market=QUIET_MARKET, start=current_time(),
            previous_run=CloidFactory("test", run_id=0), previous_orders=3, foreign_orders=2,
        )
        engine = Engine(
            config(policy, grace_s=600.0, startup=sweep), cloids=CloidFactory("test", run_id=1)
        )
        adapter = SimulatedAdapter(exchange, now=current_time, sleep=sleep)
        runtime = Runtime(engine, adapter)
        async with runtime.session():
            truth = exchange.truth
            at_start = len(truth.resting(Owner.PREVIOUS_RUN))
            foreign = len(truth.resting(Owner.FOREIGN))
            price = exchange.bbo()[0] * Decimal("0.99")
            mine = runtime.request(
                lambda e, now: e.place(Side.BUY, price.quantize(Decimal(1)), Decimal("0.001"), now)
            )
            await sleep(10.0)
            assert mine.state in (S.FINALIZED_PROTECTED, S.TRACKED)
            assert len(truth.resting(Owner.CLIENT)) == 1
            await runtime.close(cancel_all=False)
            return at_start, foreign, len(truth.resting(Owner.PREVIOUS_RUN))

    return run_virtual(main)[0]


def test_startup_cancel_all_clears_an_earlier_runs_orders_before_the_first_placement() -> None:
    # The session yields only once they are gone: before anything is placed.
    assert startup(OrphanPolicy.IGNORE, sweep=True) == (0, 2, 0)
    assert startup(OrphanPolicy.ADOPT, sweep=True) == (0, 0, 0)


def test_startup_without_the_key_leaves_them_resting() -> None:
    assert startup(OrphanPolicy.ADOPT, sweep=False) == (3, 2, 3)


def test_startup_cancel_all_is_a_validated_switch() -> None:
    assert RuntimePolicyConfig().startup_cancel_all is False
    try:
        dataclasses.replace(RuntimePolicyConfig(), startup_cancel_all=1)  # type: ignore[arg-type]
    except Exception as exc:
        assert "runtime.startup_cancel_all" in str(exc)
    else:
        raise AssertionError("a number was taken for a switch")
