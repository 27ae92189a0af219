"""mlpmf: free-energy profiles and rates from umbrella sampling with machine-learned potentials."""

__version__ = "0.1.0"
