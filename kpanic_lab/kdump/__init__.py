"""kdump: crashkernel=, the kdump configuration files, and makedumpfile (the collector)."""
