"""EEs: event exporters (CGRateS's ``ees`` section, ``EeSv1``); see :mod:`.service`."""

from pycgrates.engine.ees.service import EventExporterService

__all__ = ["EventExporterService"]
