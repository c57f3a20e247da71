"""ERs: event readers (CGRateS's ``ers`` section, ``ErSv1``); see :mod:`.service`."""

from pycgrates.engine.ers.service import EventReaderService

__all__ = ["EventReaderService"]
