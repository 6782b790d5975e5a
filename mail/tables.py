"""Tables of the outbox (its tables come with the invites issue)."""
