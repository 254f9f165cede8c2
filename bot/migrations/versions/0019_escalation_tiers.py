"""escalation tiers per region (issue 17)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 19:00:00.000000

Escalations get a due date, the tier they were moved up from, a reason for a skipped tier, the
「告知企业」 choices, who resolved them and when the overdue line was written. Existing rows
(联席会议 / 工改领导小组, no due date) stay valid: every new column is nullable or has a default.
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('previous_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('skip_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('tell_enterprise', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('resolution_told', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('resolved_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_escalations_due_date'), ['due_date'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_escalations_previous_id_escalations'), 'escalations',
                                    ['previous_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_escalations_resolved_by_staff'), 'staff', ['resolved_by'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_escalations_resolved_by_staff'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_escalations_previous_id_escalations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_escalations_due_date'))
        batch_op.drop_column('overdue_at')
        batch_op.drop_column('resolved_by')
        batch_op.drop_column('resolution_told')
        batch_op.drop_column('tell_enterprise')
        batch_op.drop_column('skip_reason')
        batch_op.drop_column('previous_id')
        batch_op.drop_column('due_date')
