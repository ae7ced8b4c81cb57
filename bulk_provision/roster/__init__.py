"""The roster: CSV and Excel readers, header mapping, and validation against the schema."""
