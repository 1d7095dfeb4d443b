"""The one-line errors a shipped net gives for its own settings in its constructor, each naming `model.net.<key>`;
the central config check knows none of them, so a user's net may take any settings."""

from __future__ import annotations

from src.errors import is_int, is_number, require, require_int


def check_choice(key: str, value, allowed: tuple) -> None:
    require(value in allowed, f"model.net.{key} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def check_int(key: str, value, minimum: int = 1) -> None:
    require_int(f"model.net.{key}", value, minimum)


def check_dropout(key: str, value) -> None:
    require(is_number(value) and 0 <= value < 1, f"model.net.{key} must be in [0, 1); got {value!r}")


def check_widths(key: str, value) -> None:
    require(
        isinstance(value, (list, tuple)) and all(is_int(h) and h >= 1 for h in value),
        f"model.net.{key} must be a list of positive integers, e.g. [64,64]; got {value!r}",
    )


def check_multiplier(key: str, value, d_block) -> None:
    """A hidden width given as a multiple of d_block, which rtdl truncates to an integer: at least one unit."""
    require(
        is_number(value) and value > 0 and int(d_block * value) >= 1,
        f"model.net.{key} must be a number > 0 giving at least one hidden unit (d_block={d_block} times it); got {value!r}",
    )
