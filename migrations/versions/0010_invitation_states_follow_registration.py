"""invitation states follow registration (issue 11): "waiting" and "cancelled" join the stored states

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 11:05:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD = "state IN ('draft', 'sent', 'opened', 'registered', 'declined', 'revoked')"
NEW = "state IN ('draft', 'sent', 'opened', 'registered', 'waiting', 'cancelled', 'declined', 'revoked')"


def upgrade():
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.drop_constraint(op.f("ck_invitations_state_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_invitations_state_known"), NEW)
    # Invitations of people whose registration is on the waiting list, cancelled or refused.
    conn = op.get_bind()
    for status, state in (("waitlisted", "waiting"), ("cancelled", "cancelled"), ("rejected", "cancelled")):
        conn.execute(
            sa.text(
                "UPDATE invitations SET state = :state WHERE state = 'registered' AND id IN "
                "(SELECT invitation_id FROM registrations WHERE status = :status AND invitation_id IS NOT NULL)"
            ),
            {"state": state, "status": status},
        )


def downgrade():
    op.execute("UPDATE invitations SET state = 'registered' WHERE state IN ('waiting', 'cancelled')")
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.drop_constraint(op.f("ck_invitations_state_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_invitations_state_known"), OLD)
