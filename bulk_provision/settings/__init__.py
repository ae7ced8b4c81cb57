"""Settings: the config file, the paths a job touches, the connection, and the merged job spec."""
