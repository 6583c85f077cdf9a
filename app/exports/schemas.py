from pydantic import Field

from app.kit.schemas import ResponseModel
from app.tickets.schemas import TicketMetricsOut, TicketOut


class ExportedTicket(TicketOut):
    deleted: bool = Field(description="The ticket is deleted (`deleted_at` says when)")
    metrics: TicketMetricsOut = Field(description="Its metrics as of its last change")


class TicketExport(ResponseModel):
    items: list[ExportedTicket] = Field(description="Tickets by `updated_at`, then id")
    next_cursor: str = Field(description="Where the next page starts; always given, also to poll later")
    end_of_stream: bool = Field(
        description="true: every ticket changed until a few seconds ago has been given; poll again later "
        "with next_cursor"
    )
