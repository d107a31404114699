"""Credential-shaped text: find it and mask it, in time linear in the text's length.

Every stage that prints a piece of the input (load's messages, validate's diagnostics) passes it
through `redact`, and validate refuses any value `kind` names. stack.yaml may be 8 MiB of one
scalar, so no check here may be quadratic. Each pattern is written so that an attempt either
reads a bounded number of characters or starts only where a run of its characters starts and
reads that run once (a lookbehind forbids starting inside the run, a possessive quantifier
forbids re-reading it while backtracking); a successful match is skipped past. So every
character is read a bounded number of times, whatever the text. The URL-password check, which
no such regex expresses (the password may itself hold `@`), is a scan by hand.

Masks keep four characters: enough to tell which credential it was, never enough to use it.
"""

from __future__ import annotations

import functools
import re
import typing as t
from dataclasses import dataclass


@dataclass(frozen=True)
class _Pattern:
    label: str
    regex: re.Pattern[str]
    # A last look at a match the regex cannot judge in linear time (mixed case, say).
    accept: t.Callable[[str], bool] = lambda _: True


def _mixed(text: str) -> bool:
    """Upper case, lower case and a digit: random key material, not a word or a hex digest."""
    return any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)


def _aws_secret(text: str) -> bool:
    # A path of the same length (`a/b/...`) has empty or short segments and reads like words.
    return _mixed(text) and "//" not in text and not text.startswith("/") and not text.endswith("/")


_PEM_HEADER = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
_PEM_FOOTER = r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"

PATTERNS: tuple[_Pattern, ...] = (
    # No `\b` in front: `x_AKIA...` and `1AKIA...` are keys too; 20 characters, so bounded.
    _Pattern("an AWS access key id", re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])")),
    # PEM and PGP private keys run to their END line, or to the end of the text. The header's
    # class run is greedy, not possessive (it must give back `PRIVATE KEY`): it backtracks
    # within one run, which ends at the next `-`.
    _Pattern("a private key", re.compile(_PEM_HEADER + r"(?:.*?" + _PEM_FOOTER + r"|.*+)", re.S)),
    _Pattern("a GitHub token", re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{20,}+|github_pat_[A-Za-z0-9_]{20,}+)")),
    _Pattern("a GitLab token", re.compile(r"glpat-[A-Za-z0-9_-]{20,}+")),
    _Pattern("a Slack token", re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}+")),
    _Pattern("a Slack webhook", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{10,}+")),
    _Pattern("a Hugging Face token", re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}+")),
    _Pattern("an API key", re.compile(r"(?<![A-Za-z0-9_-])(?:sk-[A-Za-z0-9_-]{20,}+|[sr]k_live_[A-Za-z0-9]{16,}+)"),
             lambda text: text.startswith(("sk_live_", "rk_live_")) or _mixed(text)),
    _Pattern("a Google service-account key", re.compile(r'"private_key"\s*+:\s*+(?:"(?:[^"\\]|\\.)*+"?)?')),
    _Pattern("a JSON Web Token", re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+")),
    _Pattern("a Google API key", re.compile(r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
    # Signed URLs: the signature is the credential (Azure SAS, GCS and S3 presigned URLs).
    _Pattern("a signed URL", re.compile(r"[?&](?:sig|X-Goog-Signature|X-Amz-Signature)=[A-Za-z0-9%+/=_-]{8,}+", re.I)),
    # 40 characters of base64 standing alone, in mixed case: an AWS secret access key.
    _Pattern("an AWS secret access key", re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"), _aws_secret),
)

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_AUTHORITY_ENDS = frozenset("/?#") | frozenset(" \t\r\n\x0b\x0c\x85\u2028\u2029")


def url_passwords(text: str) -> t.Iterator[tuple[int, int]]:
    """(start, end) of the password of every `scheme://user:password@host` in `text`.

    The host starts after the authority's last `@`, so a password holding `@` is found whole;
    the user may be empty (`https://:password@host`). Each `://` is examined once, over its
    authority only, which ends at the next `/` (every later `://` holds one), so the scan reads
    each character at most twice.
    """
    start = 0
    while (found := text.find("://", start)) != -1:
        start = found + 3
        if found == 0 or text[found - 1] not in _SCHEME_CHARS:
            continue
        end = start
        while end < len(text) and text[end] not in _AUTHORITY_ENDS:
            end += 1
        at = text.rfind("@", start, end)
        colon = text.find(":", start, at) if at != -1 else -1
        if colon != -1 and colon + 1 < at:
            yield colon + 1, at


def _scoped(pattern: _Pattern) -> str:
    flags = "".join(letter for flag, letter in ((re.S, "s"), (re.I, "i")) if pattern.regex.flags & flag)
    return f"(?{flags}:{pattern.regex.pattern})" if flags else f"(?:{pattern.regex.pattern})"


# Every pattern at once, for the common answer: nothing here. Where any pattern matches, one
# alternative matches at that position, so no match of this means no match of any; one search
# costs what the thirteen do, without thirteen calls per value (a 1,000-cluster stack has 21,000).
_ANY = re.compile("|".join(_scoped(p) for p in PATTERNS))


def _hits(pattern: _Pattern, text: str) -> t.Iterator[re.Match[str]]:
    return (m for m in pattern.regex.finditer(text) if pattern.accept(m.group(0)))


def kind(text: str) -> str | None:
    """What kind of credential `text` holds, or None."""
    if next(url_passwords(text), None) is not None:
        return "a password inside a URL"
    if _ANY.search(text) is None:
        return None
    return next((p.label for p in PATTERNS if next(_hits(p, text), None) is not None), None)


def redact(text: str) -> str:
    """`text` with every credential-shaped part masked; idempotent."""
    pieces, last = [], 0
    for start, end in url_passwords(text):
        pieces += [text[last:start], "****"]
        last = end
    text = "".join(pieces) + text[last:]
    for pattern in PATTERNS:
        text = pattern.regex.sub(functools.partial(_masked, pattern.accept), text)
    return text


def _masked(accept: t.Callable[[str], bool], match: re.Match[str]) -> str:
    found = match.group(0)
    return found[:4] + "****" if accept(found) else found


def masked(value: str) -> str:
    """A whole value known to be a secret: a short one keeps less, so no mask reveals it all."""
    return value[: min(4, len(value) // 3)] + "****"
