"""the enterprise's 办结 confirmation and materials handed back (issue 17)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 16:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('completion_confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_openid', sa.String(length=64), nullable=True),
    sa.Column('objection', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_completion_confirmations_case_id_cases')),
    sa.ForeignKeyConstraint(['requested_by'], ['staff.id'], name=op.f('fk_completion_confirmations_requested_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_completion_confirmations'))
    )
    with op.batch_alter_table('completion_confirmations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_completion_confirmations_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_completion_confirmations_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_completion_confirmations_state'), ['state'], unique=False)
    op.create_table('material_handbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('occasion', sa.String(length=8), nullable=False),
    sa.Column('materials', sa.JSON(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('returned_on', sa.Date(), nullable=False),
    sa.Column('signed_by', sa.String(length=64), nullable=False),
    sa.Column('tracking_number', sa.String(length=40), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_openid', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_material_handbacks_case_id_cases')),
    sa.ForeignKeyConstraint(['recorded_by'], ['staff.id'], name=op.f('fk_material_handbacks_recorded_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_handbacks'))
    )
    with op.batch_alter_table('material_handbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_handbacks_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('material_handbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_material_handbacks_case_id'))
    op.drop_table('material_handbacks')
    with op.batch_alter_table('completion_confirmations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_completion_confirmations_state'))
        batch_op.drop_index(batch_op.f('ix_completion_confirmations_deadline'))
        batch_op.drop_index(batch_op.f('ix_completion_confirmations_case_id'))
    op.drop_table('completion_confirmations')
