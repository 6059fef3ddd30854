"""JSON numbers as the filter language reads and writes them (the text forms JavaScript uses)."""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["number_text", "read_number"]

_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def read_number(text: str) -> float | None:
    """Return ``text`` as a number when it reads as one (``10``, ``-1.5``, ``.5``, ``1e3``).

    Syntax: optional sign, ASCII digits with an optional fraction (or a fraction alone), optional
    exponent; nothing else, no surrounding spaces. Anything else returns None.
    """
    if _NUMBER_RE.fullmatch(text) is None:
        return None
    return float(text)


def number_text(value: int | float) -> str:
    """Write a JSON number the way JavaScript's ``String(n)`` does (``10.0`` -> ``"10"``).

    Shortest round-trip digits; exponent form (``1e+21``, ``1e-7``) outside [1e-6, 1e21).
    """
    if type(value) is int and -(2**53) <= value <= 2**53:
        return str(value)
    x = float(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + number_text(-x)
    mantissa, _, exp_text = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    exponent = int(exp_text or 0) - len(fraction)  # value = int(digits) * 10**exponent
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = k + exponent  # value = 0.digits * 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(e)}"


def _as_number(found: Any) -> float | None:
    """Read a JSON number, or a string holding one (:func:`read_number`); None otherwise."""
    kind = type(found)
    if kind is int or kind is float:
        return _float(found)
    if kind is str:
        return read_number(found)
    return None


def _float(number: int | float) -> float:
    """``float(number)``, with integers too large for a double as +/- infinity (as in JS)."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf
