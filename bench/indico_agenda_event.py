"""Make, in an Indico 3.2.9 installed apart, the event bench/bench_indico_pdf.py renders: a public
meeting with 20 contributions of 20 minutes in its timetable, titled as bench/run.py's agenda
items (Thai, Vietnamese and Chinese). Run with Indico's Python, not this project's:

    INDICO_CONFIG=/path/indico.conf /work/indico-venv/bin/python bench/indico_agenda_event.py

It prints the event's id (INDICO_EVENT for bench/bench_indico_pdf.py).
"""

from datetime import datetime, timedelta

import pytz
from indico.core.db import db
from indico.core.db.sqlalchemy.protection import ProtectionMode
from indico.modules.categories.models.categories import Category
from indico.modules.events.contributions.operations import create_contribution
from indico.modules.events.models.events import Event, EventType
from indico.modules.events.operations import create_event
from indico.modules.users import User
from indico.web.flask.app import make_app


def main() -> None:
    app = make_app()
    with app.test_request_context():
        user = User.query.filter_by(is_system=False).first()
        if user is None:
            user = User(first_name="Bench", last_name="Admin", email="bench-admin@example.org", is_admin=True)
            db.session.add(user)
            db.session.flush()
        start = pytz.utc.localize(datetime(2027, 1, 15, 2, 0))
        data = {
            "title": "Agenda PDF",
            "start_dt": start,
            "end_dt": start + timedelta(hours=8),
            "timezone": "Asia/Bangkok",
            "creator": user,
            "protection_mode": ProtectionMode.public,
        }
        event = create_event(Category.get_root(), EventType.meeting, data)
        db.session.commit()  # the contributions' numbering reads the committed event
        event = Event.get(event.id)
        for k in range(20):
            title = f"Presentation {k + 1}: การค้ามนุษย์ / buôn bán người / 人口贩运"
            create_contribution(
                event,
                {"title": title, "duration": timedelta(minutes=20), "start_dt": start + timedelta(minutes=20 * k)},
            )
        db.session.commit()
        print(event.id)


if __name__ == "__main__":
    main()
