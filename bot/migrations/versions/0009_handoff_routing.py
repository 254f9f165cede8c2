"""a handoff knows the case it is about and the commissioner it went to (转人工 routing)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('commissioner_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_handoffs_case_id_cases'), 'cases', ['case_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_handoffs_commissioner_id_staff'), 'staff', ['commissioner_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_handoffs_commissioner_id'), ['commissioner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoffs_commissioner_id'))
        batch_op.drop_constraint(batch_op.f('fk_handoffs_commissioner_id_staff'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_handoffs_case_id_cases'), type_='foreignkey')
        batch_op.drop_column('commissioner_id')
        batch_op.drop_column('case_id')
