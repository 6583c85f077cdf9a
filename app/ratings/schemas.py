from datetime import datetime
from typing import Self
from uuid import UUID

from pydantic import Field, model_validator

from app.kit.schemas import LongText, RequestModel, ResponseModel


class RatingIn(RequestModel):
    """A score of 1 to 5, or good or bad alone; either way with a comment if the customer likes."""

    score: int | None = Field(None, ge=1, le=5, description="1 (very bad) to 5 (very good); 4 and 5 are good")
    good: bool | None = Field(None, description="Instead of a score: good (true) or bad (false)")
    comment: LongText | None = None

    @model_validator(mode="after")
    def _score_or_good(self) -> Self:
        if (self.score is None) == (self.good is None):
            raise ValueError("give either a score or good, not both and not neither")
        return self

    @property
    def is_good(self) -> bool:
        return self.good if self.score is None else self.score >= 4  # type: ignore[return-value]


class RatingOut(ResponseModel):
    id: UUID
    ticket_id: UUID
    solved_at: datetime = Field(description="The solve it rates: one rating per solve of the ticket")
    score: int | None = Field(description="1 to 5; null for a rating given as good or bad alone")
    good: bool = Field(description="Good: a score of 4 or 5, or good itself")
    comment: str | None
    created_at: datetime
    updated_at: datetime
