"""Jobs: one library function per job (validate, plan, run, undo, export), for CLI and page."""
