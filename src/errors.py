"""The one exception type for user mistakes: entry points print it as a single line, without a traceback."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class UserError(Exception):
    """A bad setting, file or checkpoint: the message names the problem and what is allowed."""


@contextmanager
def user_errors_exit() -> Iterator[None]:
    """In an entry point: a UserError becomes `error: <message>` on stderr and exit status 2."""
    try:
        yield
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
