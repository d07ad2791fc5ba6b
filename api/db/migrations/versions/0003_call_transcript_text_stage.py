"""calls: transcript_text (searched by the calls page) and stage (what the worker is doing)

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

from api.services.calls import transcript_text

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transcript_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('stage', sa.String(length=200), nullable=True))
    # calls scored before this revision become searchable too
    calls = sa.table('calls', sa.column('id', sa.String), sa.column('result', sa.JSON),
                     sa.column('transcript_text', sa.Text))
    connection = op.get_bind()
    for call_id, result in connection.execute(sa.select(calls.c.id, calls.c.result).where(calls.c.result.is_not(None))):
        connection.execute(calls.update().where(calls.c.id == call_id).values(transcript_text=transcript_text(result)))


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('stage')
        batch_op.drop_column('transcript_text')
