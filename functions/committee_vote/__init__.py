"""committee_vote: the weighted vote; keeps every decision with its votes."""
