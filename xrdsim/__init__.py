"""xrdsim: simulate, collect and score XRootD monitoring against what crossed the network."""

__version__ = "0.1.0"
