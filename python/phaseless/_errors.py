"""Exceptions of the phaseless package.

Every mistake in something the user gave (model file, --set override, data file,
output path, argument) raises ``ModelError`` (a ``ValueError``) with one message naming
the place and what is allowed; the CLI exits with status 2 for the same mistakes.
"""
import re

__all__ = ["Error", "ModelError", "TraceIOError", "Diverged"]

# "FILE:LINE:COL: FIELD.PATH: problem" or "FILE: problem" or "--set PATH: problem"
_LOCATED = re.compile(r"^(?P<file>[^\n]*?):(?P<line>\d+):(?P<col>\d+): (?P<rest>.*)$")
_FIELD = re.compile(r"^(?P<field>[A-Za-z_][\w\.\[\]@-]*): (?P<problem>.*)$")
_SET = re.compile(r"^--set (?P<field>[^:]+): (?P<problem>.*)$")


class Error(Exception):
    """Base class of every error phaseless raises on purpose."""


class Problem:
    """One problem of a model: where (file, line, column, field path) and what."""

    def __init__(self, text):
        self.text = text
        self.file = self.line = self.column = self.field = None
        self.problem = text
        m = _LOCATED.match(text)
        if m:
            self.file, self.line, self.column = m["file"], int(m["line"]), int(m["col"])
            rest = m["rest"]
            f = _FIELD.match(rest)
            if f:
                self.field, rest = f["field"], f["problem"]
            self.problem = rest
            return
        m = _SET.match(text)
        if m:
            self.field, self.problem = "--set " + m["field"], m["problem"]

    def __repr__(self):
        return f"Problem({self.text!r})"


class ModelError(Error, ValueError):
    """A mistake in a model file, an override, a data file, a path or an argument.

    ``problems`` lists every problem found (a model is checked as a whole);
    ``file``, ``line``, ``column`` and ``field`` are those of the first one (None
    where the message has no such part, e.g. a missing output folder).
    """

    def __init__(self, message):
        super().__init__(message)
        self.problems = [Problem(line) for line in message.splitlines() if line.strip()]
        first = self.problems[0] if self.problems else Problem(message)
        self.file, self.line, self.column, self.field = first.file, first.line, first.column, first.field


class TraceIOError(Error, OSError):
    """A read or write failed (disk full, I/O error); the message names the file."""


class Diverged(Error, ArithmeticError):
    """Learning produced NaN or Inf."""


def from_user_error(message):
    return ModelError(message)


def from_io_error(message):
    return TraceIOError(message)


def from_numeric_error(message):
    return Diverged(message)


def argument_error(name, value, allowed):
    """A bad Python argument: one message naming it and what is allowed."""
    return ModelError(f"argument {name}={value!r}: allowed: {allowed}")
