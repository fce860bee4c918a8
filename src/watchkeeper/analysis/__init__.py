"""Pure analysis on arrays: SLO burn rates, forecasts (and later baselines and drift)."""
