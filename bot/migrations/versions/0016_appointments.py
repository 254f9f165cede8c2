"""visits and window appointments (issue 17)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 19:00:00.000000
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the appointments helper fills this in


def downgrade() -> None:
    pass
