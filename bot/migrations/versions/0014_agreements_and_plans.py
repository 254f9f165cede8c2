"""委托协议 texts per region and version, the version each case agreed to, and the 一企一策 plan dates per item (issue 17)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned_date', sa.Date(), nullable=True))
    op.create_table('case_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('agreed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('agreed_openid', sa.String(length=64), nullable=False),
    sa.Column('agreed_name', sa.String(length=64), nullable=False),
    sa.Column('agreed_phone', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_agreements_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_agreements')),
    sa.UniqueConstraint('case_id', name=op.f('uq_case_agreements_case_id'))
    )


def downgrade() -> None:
    op.drop_table('case_agreements')
    with op.batch_alter_table('case_items', schema=None) as batch_op:
        batch_op.drop_column('planned_date')
