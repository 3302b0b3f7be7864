"""The version of funnelkit, defined in this one place."""

__version__ = "0.1.0"
