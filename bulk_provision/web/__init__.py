"""``bulk-provision serve``: the browser page for HR admins (DESIGN.md section 9)."""
