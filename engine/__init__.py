"""pycgrates engine: real-time rating, accounting and session charging with CGRateS behaviour."""

__version__ = "0.1.0"
VERSION_NAME = f"pycgrates v{__version__}"
