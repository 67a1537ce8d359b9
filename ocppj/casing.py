"""camelCase payloads to snake_case keyword arguments and back, as the `ocpp` library does.

The library converts every key with regular expressions on every message; the key set of OCPP is
small and fixed, so each distinct key is converted once and remembered.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from functools import cache
from typing import Any

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case


@cache
def snake(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


@cache
def camel(key: str) -> str:
    return next(iter(snake_to_camel_case({key: None})))


def to_snake(value: Any) -> Any:
    if type(value) is dict:
        return {snake(k): to_snake(v) for k, v in value.items()}
    if type(value) is list:
        return [to_snake(v) for v in value]
    return value


def to_camel(value: Any) -> Any:
    """A call/call_result dataclass (snake_case fields) or a camelCase dict as a JSON payload.

    Dict keys are left as they are: dicts are taken to be OCPP JSON already.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel(name): to_camel(item)
            for name in _field_names(type(value))
            if (item := getattr(value, name)) is not None
        }
    if type(value) is dict:
        return {k: to_camel(v) for k, v in value.items() if v is not None}
    if type(value) is list:
        return [to_camel(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))
