"""Real-user monitoring: Core Web Vitals from real browsers.

A page includes ``<script src="https://wk.example.com/rum.js" defer></script>``; the script
(Google's web-vitals and a small loader) measures LCP, INP, CLS, FCP and TTFB and sends
them in batches to ``POST /rum``. Here:

    vitals      the metrics, their thresholds and ratings, the device classes
    histogram   log buckets with the thresholds as edges: p75 cheap and rating-true
    pages       page groups from route patterns (RE2)
    beacon      a batch, checked field by field (hostile input)
    aggregate   per (page group, device, metric, minute) tallies in memory, dedup by id
    collector   the running side: rate limits, sampling, the batched writer
    analysis    p75, ratings and shares over a window and over time (pure)
    settings    the ``rum:`` section of the config
    rows        the tallies and samples as stored

Modules are imported where used: nothing here is loaded unless RUM is.
"""
