"""Parts other apps add to a transaction as REST shows it: the tariffs app its cost, say. The
stations app knows nothing of them; an app declares its part once (a name, the relation to
select with the rows, how to render one row) and every transaction endpoint shows it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stations.models import Transaction


@dataclass(frozen=True)
class TransactionPart:
    name: str
    render: Callable[[Transaction], Any]
    select_related: tuple[str, ...] = ()


_PARTS: dict[str, TransactionPart] = {}


def add_transaction_part(part: TransactionPart) -> None:
    _PARTS[part.name] = part


def transaction_parts() -> tuple[TransactionPart, ...]:
    return tuple(_PARTS.values())


def related() -> list[str]:
    return [name for part in _PARTS.values() for name in part.select_related]
