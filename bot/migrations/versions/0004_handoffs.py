"""handoffs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 06:34:58.762340
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answered_by'], ['staff.id'], name=op.f('fk_handoffs_answered_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoffs'))
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoffs_asked_at'), ['asked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoffs_openid'), ['openid'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoffs_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoffs_state'), ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoffs_state'))
        batch_op.drop_index(batch_op.f('ix_handoffs_region'))
        batch_op.drop_index(batch_op.f('ix_handoffs_openid'))
        batch_op.drop_index(batch_op.f('ix_handoffs_asked_at'))

    op.drop_table('handoffs')
