"""Curation over the clip index: listing clips by condition, multiple-choice QA, duplicates, filters, export."""
