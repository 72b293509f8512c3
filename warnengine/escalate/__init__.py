"""Escalation (叫应, 入户): the policy's ladder, run against the record until every household is reached."""
