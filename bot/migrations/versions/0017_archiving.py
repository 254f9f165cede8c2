"""立卷归档 as a staff action (issue 17)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 19:00:00.000000
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the archiving helper fills this in


def downgrade() -> None:
    pass
