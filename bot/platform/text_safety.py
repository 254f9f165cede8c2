"""Text from outside (what an applicant types, what staff write) made safe to keep and to hand on.

Pure functions, no imports of the rest: the case services call them where text is stored, the
exports where it leaves, the CLI where it reaches a terminal.
"""
from __future__ import annotations

import re

# Outside XML 1.0's Char production: an xlsx (or a WeChat XML reply) cannot hold these at all,
# and a lone surrogate cannot even be encoded as UTF-8 (nor stored: PostgreSQL refuses NUL too).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A name is one line: its tabs and line breaks become a space.
_BREAKS = re.compile("[\t\n\r\x85\u2028\u2029]+")
# DEL and the C1 controls are valid XML but never part of a name (a terminal reads \x9b as CSI).
_C1 = re.compile("[\x7f-\x9f]")
# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection").
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
# What a terminal acts on instead of printing: C0/C1 controls (escape sequences start with ESC
# or CSI) and the bidirectional overrides that reorder what is shown ("Trojan Source").
_TERMINAL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML cannot hold (line breaks and tabs stay)."""
    return _NOT_XML.sub("", text)


def single_line(text: str) -> str:
    """A name or code as one clean line: no control characters, breaks as spaces, trimmed."""
    return _C1.sub("", _BREAKS.sub(" ", xml_safe(text))).strip()


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_LEADS)


def terminal_safe(text: str) -> str:
    """`text` for printing: every character a terminal would act on is shown as its escape (\\x1b)."""
    return _TERMINAL_UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
