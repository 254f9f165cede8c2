"""立卷归档 as a staff action (issue 17)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 19:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_archives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('archived_by', sa.Integer(), nullable=True),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('no_return_needed', sa.Boolean(), nullable=False),
    sa.Column('rating_absent', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['archived_by'], ['staff.id'], name=op.f('fk_case_archives_archived_by_staff')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_archives_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_archives')),
    sa.UniqueConstraint('case_id', name=op.f('uq_case_archives_case_id')),
    sa.UniqueConstraint('number', name=op.f('uq_case_archives_number'))
    )
    with op.batch_alter_table('case_archives', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_archives_archived_at'), ['archived_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_archives', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_archives_archived_at'))
    op.drop_table('case_archives')
