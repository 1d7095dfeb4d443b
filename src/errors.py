"""The one exception type for user mistakes: entry points print it as a single line, without a traceback."""


class UserError(Exception):
    """A bad setting, file or checkpoint: the message names the problem and what is allowed."""
