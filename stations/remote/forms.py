"""The operator's form of a command, declared with its input: what the dashboard renders, and how
a posted form is read back into the typed input.

An input dataclass lists its `fields` (one `FormField` per form control); `FormInput.from_form`
reads each control into the dataclass field of the same name, with the field's rules (a number, a
required text, one of some choices), so the form and its reading cannot drift apart. A command's
`buttons` are the forms it shows (one by default; Reset shows Soft and Hard), each with the values
it posts on its own and what it asks the operator to confirm. The dashboard renders them all from
the catalog (`dashboard/templatetags/commands.py`): a new command with an input gets its form on the
station page without any template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

Form = Mapping[str, Any]
# What a page knows when it renders a form: the station and what it shows (its active transactions).
Page = Mapping[str, Any]


class InputError(ValueError):
    """The operator's input is incomplete or wrong: nothing is sent."""


def form_int(form: Form, name: str, default: int | None = None) -> int:
    raw = form.get(name)
    if raw in (None, ""):
        if default is None:
            raise InputError(f"{name} is required")
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number") from None


def form_text(form: Form, name: str) -> str:
    value = str(form.get(name) or "").strip()
    if not value:
        raise InputError(f"{name} is required")
    return value


@dataclass(frozen=True)
class FormField:
    """One control of a command's form; `name` is both the form field and the input's attribute."""

    name: str
    label: str
    kind: ClassVar[str] = "text"

    def read(self, form: Form) -> Any:
        raise NotImplementedError

    def control(self, page: Page) -> dict[str, Any]:
        """What the template needs to draw the control."""
        return {"kind": self.kind, "name": self.name, "label": self.label}


@dataclass(frozen=True)
class Number(FormField):
    """An integer; without `default` it is optional (None) unless `required`."""

    default: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False
    placeholder: str = ""
    kind: ClassVar[str] = "number"

    def read(self, form: Form) -> int | None:
        if form.get(self.name) in (None, "") and self.default is None and not self.required:
            return None
        value = form_int(form, self.name, self.default)
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                raise InputError(f"{self.name} must be at least {low}")
            raise InputError(f"{self.name} must be between {low} and {high}")
        return value

    def read_int(self, form: Form) -> int:
        """`read` for a caller that needs a number (a field with a default, or required)."""
        value = self.read(form)
        if value is None:
            raise InputError(f"{self.name} is required")
        return value

    def control(self, page: Page) -> dict[str, Any]:
        return {
            **super().control(page),
            "value": "" if self.default is None else str(self.default),
            "min": self.minimum,
            "max": self.maximum,
            "required": self.required,
            "placeholder": self.placeholder,
        }


@dataclass(frozen=True)
class Text(FormField):
    """A line of text (an ID token, a message name): required unless told otherwise (then "" when
    left empty)."""

    placeholder: str = ""
    required: bool = True

    def read(self, form: Form) -> str:
        if not self.required:
            return str(form.get(self.name) or "").strip()
        return form_text(form, self.name)

    def control(self, page: Page) -> dict[str, Any]:
        return {**super().control(page), "placeholder": self.placeholder, "required": self.required}


@dataclass(frozen=True)
class LongText(Text):
    """Several lines (a PEM certificate), kept as typed but for surrounding blank space."""

    kind: ClassVar[str] = "textarea"


@dataclass(frozen=True)
class Choice(FormField):
    """One of `choices` ((value, label) pairs), or of what `options` finds on the page (the
    station's active transactions); `empty` is shown when there is nothing to choose."""

    choices: Sequence[tuple[str, str]] = ()
    options: Callable[[Page], Sequence[tuple[str, str]]] | None = None
    empty: str = ""
    live: str = ""  # the id of a live region (live.js refreshes its options)
    default: str = ""  # the value when the form leaves the field out; "" = required
    kind: ClassVar[str] = "select"

    def read(self, form: Form) -> str:
        if self.default and form.get(self.name) in (None, ""):
            return self.default
        value = form_text(form, self.name)
        if self.choices and value not in {v for v, _ in self.choices}:
            raise InputError(f"{self.name} must be one of {', '.join(v for v, _ in self.choices)}")
        return value

    def control(self, page: Page) -> dict[str, Any]:
        choices = list(self.options(page) if self.options else self.choices)
        return {**super().control(page), "choices": choices, "empty": self.empty, "live": self.live}


@dataclass(frozen=True)
class Button:
    """One form of a command on the station page: its button, the values it posts without asking
    (`preset`, hidden), and what the operator must tick first (`confirm`)."""

    label: str
    preset: Mapping[str, str] = field(default_factory=dict)
    confirm: str = ""  # the checkbox's text; posted as confirm=yes
    danger: bool = False
    fields: bool = True  # False: the form shows only the preset values and the button


class FormInput:
    """Base of a command's input dataclass: `from_form` reads the declared `fields`."""

    fields: ClassVar[tuple[FormField, ...]] = ()

    @classmethod
    def from_form(cls, form: Form) -> Self:
        return cls(**{f.name: f.read(form) for f in cls.fields})
