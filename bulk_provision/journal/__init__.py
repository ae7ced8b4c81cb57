"""The journal (checkpoint): its files, rows, reads and the row lifecycle."""
