"""The one exception type for user mistakes, the check that raises it, and how entry points print it."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

NO_MODEL = "no epoch had a finite val_loss: there is no model to test (lower model.optimizer.lr)"


class UserError(Exception):
    """A bad setting, file or checkpoint: the message names the problem and what is allowed."""


def require(ok: bool, message: str) -> None:
    """A UserError with `message` unless `ok`: one line naming the setting, what is allowed and the bad value."""
    if not ok:
        raise UserError(message)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def first_line(exc: BaseException | None) -> str:
    """An exception's message for a one-line error: its first line, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require_int(name: str, value, minimum: int = 1, null: bool = False, why: str = "") -> None:
    """`{name} must be [null or ]an integer >= {minimum}[ (why)]; got {value!r}` unless it is."""
    ok = (null and value is None) or (is_int(value) and value >= minimum)
    require(ok, f"{name} must be {'null or ' if null else ''}an integer >= {minimum}{why}; got {value!r}")


@contextmanager
def user_errors_exit() -> Iterator[None]:
    """In an entry point: a UserError becomes `error: <message>` on stderr and exit status 2."""
    try:
        yield
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
