"""The engine: rows carried out concurrently with retries, a rate limit and a call log."""
