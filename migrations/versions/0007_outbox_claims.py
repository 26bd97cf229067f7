"""outbox claims (issue 12: claim tokens, failure reasons)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 11:05:00

"""

import sqlalchemy as sa  # noqa: F401 - used once the upgrade is written
from alembic import op  # noqa: F401 - used once the upgrade is written

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
