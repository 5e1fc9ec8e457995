"""Regions (gazetteer) and topics (lexicons) with evidence; the enriched-article message."""
