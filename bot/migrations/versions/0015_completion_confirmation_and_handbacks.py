"""the enterprise's 办结 confirmation and materials handed back (issue 17)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 16:40:00.000000
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
