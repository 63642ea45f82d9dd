"""The history store: every run, job, step, log, test result and metric, kept durably."""
