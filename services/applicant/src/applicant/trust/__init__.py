"""Cross-city recognition (互认互通): the trust list of partner cities, its signed publication, and partner keys."""
