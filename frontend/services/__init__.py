"""Services: register and remove services, their parameter sets (edited as JSON), run one
now, and read the run log."""
