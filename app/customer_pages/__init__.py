"""The customer pages: server-rendered HTML at /t/{token} (a ticket) and /my/{token} (a contact's
tickets), over the portal's service layer, without JavaScript."""
