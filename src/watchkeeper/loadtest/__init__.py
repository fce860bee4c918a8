"""Load testing: an open-model generator, exact merged histograms, capacity search."""
