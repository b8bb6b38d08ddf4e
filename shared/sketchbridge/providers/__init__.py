"""Image providers behind one Protocol; the vendors' SDKs are imported only here."""
