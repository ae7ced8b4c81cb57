"""Roster recipes (DESIGN.md section 12): how an HR export becomes a roster in Glance's shape."""
