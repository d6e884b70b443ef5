"""Migrations are the only source of the schema: one head, and nothing the models lack."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate
from sqlalchemy import text

from app.extensions import db


def _script(app) -> ScriptDirectory:
    config = app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config)


def test_migrations_have_a_single_head(app):
    heads = _script(app).get_heads()
    assert len(heads) == 1, f"multiple Alembic heads: {heads}; add a merge revision"


def test_revision_files_start_with_a_date(app):
    import re

    for revision in _script(app).walk_revisions():
        name = revision.path.rsplit("/", 1)[-1]
        assert re.match(r"\d{8}_", name), f"{name} must start with YYYYMMDD_"


def test_models_match_the_migrated_schema(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations; run `flask db migrate`: {diff}"


def test_database_is_at_head(app):
    with db.engine.connect() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert current == _script(app).get_current_head()


def test_migrate_extension_is_configured(app):
    assert isinstance(app.extensions["migrate"].migrate, Migrate)
