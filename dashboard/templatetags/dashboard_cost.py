"""`{{ tx|cost }}`: a session's cost as the dashboard shows it — final, or so far (at the prices
the session keeps); empty where no tariff applied. The rows come with `select_related("cost")`."""

from __future__ import annotations

from django import template

from stations.models import Transaction
from tariffs.models import SessionCost
from tariffs.pricing import quantum
from tariffs.services import current_cost

register = template.Library()


@register.filter
def cost(tx: Transaction) -> str:
    try:
        row = tx.cost  # SessionCost's reverse one-to-one (django-stubs knows it)
    except SessionCost.DoesNotExist:
        return ""
    total = current_cost(tx, row).total
    text = f"{total.quantize(quantum(row.currency))} {row.currency}"
    return text if row.final else f"{text} so far"
