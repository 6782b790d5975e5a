"""Tables of the case-study library (its tables come with the case-study issue)."""
