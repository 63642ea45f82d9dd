"""Running child processes: the one process launcher, shell templates and secret masking."""
