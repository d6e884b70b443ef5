"""Hostile input for the security tests: Hypothesis strategies for JSON payloads and form fields
(wrong types, huge, deeply nested, unicode edge cases), and a snapshot of every table to prove
that a refused request wrote nothing."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.extensions import db

#: Bounded and derandomized, so CI sees the same examples on every run.
HOSTILE_SETTINGS = settings(
    max_examples=25,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example],
)

ONE_MB = 1024 * 1024

NASTY_STRINGS = (
    "",
    " ",
    "\x00",
    "nul\x00inside",
    "\ud800",  # a lone high surrogate
    "\udfff",  # a lone low surrogate
    "a\udc00b",
    "\u202eevil\u202c",  # right-to-left override
    "\u200f\u200e\u061c",  # RTL / LTR / Arabic letter marks
    "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # family: emoji ZWJ sequence
    "\U0001f3f3\ufe0f\u200d\U0001f308" * 50,
    "\ufeffbom",
    "\uffff\ufffe",
    "e\u0301" * 500,  # combining accents
    "\r\n\r\nSet-Cookie: x=y",
    "=cmd|' /C calc'!A0",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%s%n%x{0}{{7*7}}",
    "../../../../etc/passwd",
    "9" * 400,
    "-1",
    "1e400",
    "NaN",
    "Infinity",
    "true",
    "null",
    "[]",
    "{}",
)

nasty_text = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates included
)

huge_ints = st.sampled_from([2**31, 2**31 - 1, 2**63, -(2**63) - 1, 10**100, -1, 0])
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308]),
    nasty_text,
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(nasty_text, children, max_size=4)),
    max_leaves=12,
)


def nested(depth: int, *, dicts: bool = False):
    """`depth` levels of nesting, built iteratively (no recursion to build it)."""
    value: object = "bottom"
    for _ in range(depth):
        value = {"a": value} if dicts else [value]
    return value


def _specials():
    """Big values, built lazily (Hypothesis would print them when shrinking)."""
    return st.sampled_from([
        "huge_string", "huge_list", "huge_dict", "deep_list", "deep_dict", "nan", "infinity", "bytes",
    ]).map(_special)


def _special(name: str):
    return {
        "huge_string": lambda: "x" * ONE_MB,
        "huge_list": lambda: [0] * 20_000,
        "huge_dict": lambda: {f"k{i}": i for i in range(5_000)},
        # Deeper than this cannot even be encoded by the test client (json's recursion limit);
        # 10,000 levels are sent as raw frames instead.
        "deep_list": lambda: nested(400),
        "deep_dict": lambda: nested(400, dicts=True),
        "nan": lambda: math.nan,
        "infinity": lambda: -math.inf,
        "bytes": lambda: b"\x00\xff" * 1000,
    }[name]()


specials = _specials()


def object_like(schema: dict):
    """A dict shaped like `schema`'s object (its keys, some missing, some extra) with hostile values."""
    keys = list((schema.get("properties") or {}).keys())
    if not keys:
        return st.dictionaries(nasty_text, json_values, min_size=1, max_size=4)
    return st.builds(
        lambda present, values, extra: {**{k: v for k, v, keep in zip(keys, values, present, strict=False) if keep},
                                        **extra},
        st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)),
        st.lists(st.one_of(json_values, specials), min_size=len(keys), max_size=len(keys)),
        st.dictionaries(nasty_text, json_values, max_size=2),
    )


def hostile_payloads(schema: dict):
    """Any JSON value (so wrong top-level types too), a near miss of the schema's object, a huge or
    deeply nested value, or binary data."""
    return st.one_of(json_values, object_like(schema), specials, st.binary(max_size=64))


# --- database snapshot --------------------------------------------------------------------------

#: Columns that change on reads by design: a session's "last seen" is touched once a minute.
VOLATILE_COLUMNS = {("user_sessions", "last_seen_at")}


def snapshot(exclude_tables: frozenset[str] = frozenset()) -> dict[str, list]:
    """Every row of every table (sorted), outside any transaction of the test's own session."""
    db.session.rollback()
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name in exclude_tables:
            continue
        columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
        rows = db.session.execute(select(*columns)).all()
        out[table.name] = sorted(repr(tuple(row)) for row in rows)
    db.session.rollback()
    return out


def diff(before: dict, after: dict) -> list[str]:
    """The tables whose rows changed, with how many rows each side has."""
    return [f"{name}: {len(before[name])} -> {len(after.get(name, []))} rows"
            for name in before if before[name] != after.get(name)]
