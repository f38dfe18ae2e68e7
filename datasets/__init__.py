"""sciarch_datasets: data sources for sciarch plugins.

Readers of real formats, generators and simulators, and preparation into training-ready arrays,
one subpackage per domain. No models here; no plugin is imported from here.
"""
