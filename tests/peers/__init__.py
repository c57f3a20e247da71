"""Protocol peers for tests: switches and network elements written from their specifications, independent of the
codecs they test (they format and parse their own bytes)."""
