"""``POST /exchange``: signed actions, checked and performed on the account's sims.

Theory of operation
-------------------
A body passes these gates in order, each answering as the exchange does:

1. its shape (:mod:`.actions`): HTTP 422 when it does not fit;
2. the IP weight budget (:mod:`.rules`): HTTP 429;
3. the signer, recovered from the signature over the canonical action
   (:mod:`.auth`): an address that is no account and no agent gets
   ``L1 error: User or API Wallet 0x... does not exist.``; a ``vaultAddress``
   must be the signer's own account;
4. ``expiresAfter`` in the past: ``Action already expired``;
5. the signer's nonce rules: ``Invalid nonce: ...``.

Then the action runs (:mod:`.orders` for orders, cancels and modifies).
Anything that is not a whole-request refusal answers ``{"status": "ok"}``.
"""

from __future__ import annotations

from typing import Any

from ..signing import recover_l1_signer
from .actions import (
    ApproveAgent,
    CancelAction,
    Malformed,
    ModifyAction,
    Noop,
    OrderAction,
    ScheduleCancel,
    UpdateLeverage,
    parse_action,
    parse_envelope,
)
from .auth import APPROVE_AGENT_FIELDS, must_deposit, recover_user_signer, unknown_signer
from .context import AddressLimited, Context, HttpRefusal
from .orders import cancel, modify, place
from .rules import (
    ALREADY_EXPIRED,
    IP_RATE_LIMITED,
    action_weight,
    schedule_cancel_unfunded,
    unknown_asset,
)

__all__ = ["answer_exchange", "err", "ok_default"]

#: A dead man's switch must be set at least this far ahead.
SCHEDULE_CANCEL_LEAD_MS = 5_000
SCHEDULE_CANCEL_TOO_SOON = "Scheduled cancel time must be at least 5 seconds in the future."


def err(text: str) -> dict[str, Any]:
    """A whole-request refusal (HTTP 200)."""
    return {"status": "err", "response": text}


def ok_default() -> dict[str, Any]:
    """The answer of an action with nothing to report."""
    return {"status": "ok", "response": {"type": "default"}}


def _batch_size(action: Any) -> int:
    if isinstance(action, OrderAction):
        return len(action.orders)
    if isinstance(action, CancelAction):
        return len(action.cancels)
    if isinstance(action, ModifyAction):
        return len(action.modifies)
    return 1


async def answer_exchange(ctx: Context, body: object) -> dict[str, Any]:
    """The answer to one ``/exchange`` body.

    Raises:
        HttpRefusal: 422 for a body that does not fit, 429 over the IP budget.
        Lost: A sim lost the answer.
    """
    try:
        envelope = parse_envelope(body)
        action, canonical = parse_action(envelope.action)
    except Malformed:
        raise HttpRefusal.malformed() from None
    except NotImplementedError as exc:
        return err(f"Action type {exc.args[0]} is not supported by the loopback exchange.")
    if not ctx.limiter.admit(ctx.now(), action_weight(_batch_size(action))):
        raise HttpRefusal(429, IP_RATE_LIMITED)
    try:
        if isinstance(action, ApproveAgent):
            signer = recover_user_signer(
                "HyperliquidTransaction:ApproveAgent", APPROVE_AGENT_FIELDS, action.message,
                envelope.signature,
            )
        else:
            signer = recover_l1_signer(
                canonical, envelope.signature, vault_address=envelope.vault,
                nonce=envelope.nonce, expires_after=envelope.expires_after,
                is_mainnet=ctx.mainnet,
            )
    except (ValueError, TypeError):
        raise HttpRefusal.malformed() from None
    account = ctx.accounts.account_of(signer)
    if isinstance(action, ApproveAgent):
        if account != signer:  # only an account approves agents, not an agent
            return err(must_deposit(signer))
    elif account is None or (envelope.vault is not None and envelope.vault != account):
        return err(unknown_signer(signer))
    now_ms = ctx.now_ms()
    if envelope.expires_after is not None and envelope.expires_after < now_ms:
        return err(ALREADY_EXPIRED)
    refusal = ctx.nonces.spend(signer, envelope.nonce, now_ms)
    if refusal is not None:
        return err(refusal)
    try:
        return await _perform(ctx, account, action, envelope.nonce, now_ms)
    except AddressLimited as exc:
        return err(exc.text)


async def _perform(
    ctx: Context, account: str, action: Any, nonce: int, now_ms: int
) -> dict[str, Any]:
    if isinstance(action, OrderAction):
        ctx.actions_used[account] += len(action.orders)
        return await place(ctx, account, action)
    if isinstance(action, CancelAction):
        ctx.actions_used[account] += len(action.cancels)
        return await cancel(ctx, account, action)
    if isinstance(action, ModifyAction):
        ctx.actions_used[account] += len(action.modifies)
        return await modify(ctx, account, action)
    ctx.actions_used[account] += 1
    if isinstance(action, ScheduleCancel):
        return _schedule_cancel(ctx, account, action, now_ms)
    if isinstance(action, UpdateLeverage):
        if action.asset >= len(ctx.markets):
            return err(unknown_asset(action.asset))
        cap = ctx.markets[action.asset].max_leverage
        if not 1 <= action.leverage <= cap:
            return err(f"Invalid leverage value: {action.leverage}; the maximum is {cap}.")
        ctx.leverage[(account, action.asset)] = (action.is_cross, action.leverage)
        return ok_default()
    if isinstance(action, ApproveAgent):
        chain = "Mainnet" if ctx.mainnet else "Testnet"
        if action.chain != chain:
            return err(f"Invalid hyperliquidChain {action.chain!r}: this exchange is {chain}.")
        if action.nonce != nonce:
            return err("The action's nonce must equal the request's nonce.")
        ctx.accounts.approve(action.agent, account, action.name or "")
        return ok_default()
    assert isinstance(action, Noop)
    return ok_default()


def _schedule_cancel(
    ctx: Context, account: str, action: ScheduleCancel, now_ms: int
) -> dict[str, Any]:
    traded = ctx.ledger.volume_usd(account)
    if traded < ctx.schedule_cancel_volume:
        return err(schedule_cancel_unfunded(traded, ctx.schedule_cancel_volume))
    if action.time is None:
        ctx.deadlines.pop(account, None)
        return ok_default()
    if action.time < now_ms + SCHEDULE_CANCEL_LEAD_MS:
        return err(SCHEDULE_CANCEL_TOO_SOON)
    ctx.deadlines[account] = action.time
    ctx.wake()
    return ok_default()
