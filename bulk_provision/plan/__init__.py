"""Planning: actions from the roster and Glance's snapshot, approved plans, undo plans, resume."""
