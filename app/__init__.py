"""An API-first help-desk ticketing service."""
