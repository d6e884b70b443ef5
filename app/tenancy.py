"""District-scoped lookups. Another district's object is a 404, never a 403 (no existence leak)."""

from __future__ import annotations

from typing import TypeVar

from flask import abort
from sqlalchemy import select

from app.extensions import db

T = TypeVar("T")


def get_in_district(model: type[T], object_id: int, district_id: int | None) -> T:
    """Load `model` by id only if it belongs to `district_id`; abort 404 otherwise."""
    if district_id is None or object_id is None:
        abort(404)
    obj = db.session.scalar(
        select(model).where(model.id == object_id, model.district_id == district_id)  # type: ignore[attr-defined]
    )
    if obj is None:
        abort(404)
    return obj


def scoped(model, district_id: int):
    """A select() of `model` already limited to one district, for lists."""
    return select(model).where(model.district_id == district_id)
