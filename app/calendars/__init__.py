"""Business calendars: working hours and holidays in a time zone, and time counted in them."""
