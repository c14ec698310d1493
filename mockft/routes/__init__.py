"""HTTP routes: parse -> one service call -> serialise. No storage, no timelines here."""
