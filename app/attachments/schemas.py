from datetime import datetime
from uuid import UUID

from pydantic import Field, computed_field

from app.kit.schemas import ResponseModel


class UploadOut(ResponseModel):
    id: UUID
    token: str = Field(
        validation_alias="upload_token",
        description="Reference the upload from a comment with it (its `attachments`); only its uploader can",
    )
    filename: str
    size: int = Field(description="In bytes")
    sha256: str = Field(description="Hex digest of the bytes")
    content_type: str = Field(description="Sniffed from the bytes; what the client declared is ignored")
    created_at: datetime


class AttachmentOut(ResponseModel):
    id: UUID
    filename: str
    size: int = Field(description="In bytes")
    sha256: str = Field(description="Hex digest of the bytes")
    content_type: str = Field(description="Sniffed from the bytes; what the client declared is ignored")

    @computed_field(description="Where to download the bytes (the ticket's readers may)")
    @property
    def url(self) -> str:
        return f"/v1/attachments/{self.id}"
