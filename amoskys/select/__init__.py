"""Test impact selection: record which code each test runs, run only the affected tests."""
