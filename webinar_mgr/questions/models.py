"""Feedback surveys after an event (issue 15). The survey's questions are the event's questions
with purpose "feedback" (registrations/questions.py, the same kinds and rules)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock
from webinar_mgr.extensions import db


class FeedbackSurvey(db.Model):
    """One per event. ``sent_at``: when the worker queued the invitations to answer (once)."""

    __tablename__ = "feedback_surveys"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    anonymous: Mapped[bool] = mapped_column(default=False)
    intro: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class FeedbackResponse(db.Model):
    """One person's answers. Anonymous surveys store no registration and only the day."""

    __tablename__ = "feedback_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("registrations.id", ondelete="SET NULL"))
    submitted_on: Mapped[datetime] = mapped_column(default=clock.now)
    answers: Mapped[list[FeedbackAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="FeedbackAnswer.position"
    )


class FeedbackAnswer(db.Model):
    """An answer with the question's label and the chosen labels as they were."""

    __tablename__ = "feedback_answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("feedback_responses.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("event_questions.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(sa.String(20))
    label: Mapped[str] = mapped_column(sa.String(300))
    value: Mapped[str] = mapped_column(sa.Text)
    values: Mapped[list | None] = mapped_column(sa.JSON)
    response: Mapped[FeedbackResponse] = relationship(back_populates="answers")


class FeedbackReceipt(db.Model):
    """That a registrant has answered (so that a link works once), kept apart from the answers:
    for an anonymous survey nothing ties the two together."""

    __tablename__ = "feedback_receipts"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id", ondelete="CASCADE"))
    answered_on: Mapped[datetime] = mapped_column(default=clock.now)

    __table_args__ = (sa.UniqueConstraint("event_id", "registration_id", name="uq_feedback_receipts_event_reg"),)
