"""Email channels: parsing received mail, finding the ticket it belongs to, composing replies, and the
SMTP listener; `adapter` puts them together as the email channel's adapter."""
