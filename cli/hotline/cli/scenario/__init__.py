"""``hotline exercise``: scenarios run unattended (the runner, its clock, the simulated
operators) and judged from the log."""
