"""Every spreadsheet bulk-provision writes: results, validation reports, plans, templates."""
