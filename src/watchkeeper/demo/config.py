"""The demo's config: written as YAML like a user's, pointed at the demo targets."""

from __future__ import annotations

DEMO_YAML = """\
# The built-in demo: every target below runs inside this process on 127.0.0.1.
storage: sqlite:///demo.db
defaults: {{interval: 5s, timeout: 3s, confirm: 2, recover: 2, retry_interval: 2s,
           notify: [inbox]}}
notify:                # the demo's inbox prints what it receives; yours: Slack, mail, ...
  - {{name: inbox, webhook: "http://127.0.0.1:{http}/inbox", group_wait: 5s}}
status_pages:          # public: /status (no login, nothing internal shown)
  - title: Demo Shop status
    description: How the demo shop is doing right now.
    components:
      - {{name: Storefront, monitors: [shop-api, shop-https]}}
      - {{name: Search, monitors: [search]}}
      - {{name: Checkout, monitors: [checkout]}}
      - {{name: Email, monitors: [mail]}}
monitors:
  - name: shop-api
    http: http://127.0.0.1:{http}/health
    expect: ["status == 200", "json.status == 'ok'", "latency < 300ms"]
    tags: [shop]
    public: true
  - name: search
    http: http://127.0.0.1:{http}/search
    expect: ["status == 200"]
    warn: ["latency < 500ms"]      # slow is degraded, not down
    tags: [shop]
  - name: checkout
    http: http://127.0.0.1:{http}/checkout
    expect: ["status == 200", "json.status == 'ok'"]
    depends_on: [shop-api]
    tags: [shop, payments]
    runbook: "restart the payment gateway: systemctl restart gateway"
  - name: shop-tls
    tls: {{address: "127.0.0.1:{https}", verify: false}}
    expect: ["cert.expires_in > 14d", "tls.protocol in ['TLSv1.2', 'TLSv1.3']"]
    interval: 15s
  - name: shop-https             # down on purpose: see EXPLAINED below
    http: https://127.0.0.1:{https}/health
    expect: ["status == 200"]
    tags: [shop]
  - name: mail
    tcp: 127.0.0.1:{smtp}
    expect: ["tcp.banner contains 'ESMTP'"]
    interval: 10s
  - name: this-box                 # the machine Watchkeeper runs on (psutil)
    host: local
    expect: ["disk./.used_pct < 95", "memory.used_pct < 95"]
    interval: 10s
  - name: nightly-backup           # cron jobs ping it: wk heartbeat url nightly-backup
    heartbeat: {{period: 1d, grace: 1h}}
  - name: product-lcp              # real users' Largest Contentful Paint (/rum.js beacons)
    rum: {{page: product, metric: LCP, window: 5m, min_samples: 20}}
  - name: checkout-inp             # how fast the checkout answers a click, in browsers
    rum: {{page: checkout, metric: INP, window: 5m, min_samples: 10}}
projects:                          # Sentry SDKs send errors here: wk errors, /errors
  - {{name: shop, key: "{key}", notify: [inbox]}}
rum:                               # web-vitals from the shop's pages: /vitals
  origins: ["http://127.0.0.1:{http}"]
  pages:
    - {{name: home, pattern: "/"}}
    - {{name: product, pattern: "/product/*"}}
    - {{name: checkout, pattern: "/checkout"}}
slos:                              # error budgets with the SRE Workbook's burn-rate alerts
  - {{name: shop-availability, monitor: shop-api, objective: 99.5%, window: 30d}}
  - {{name: search-latency, monitor: search, objective: 90%, latency: 1s, window: 7d}}
"""


EXPLAINED = {
    "shop-https": "down on purpose: it serves a self-signed certificate, and an http check "
    "verifies certificates (as it should for yours); shop-tls reads the same certificate with "
    "verify: false, and is up",
}
"""What a newcomer would otherwise take for a broken demo, printed when the demo starts."""


def demo_yaml(http: int, https: int, smtp: int) -> str:
    from watchkeeper.demo.traffic import DEMO_KEY

    return DEMO_YAML.format(http=http, https=https, smtp=smtp, key=DEMO_KEY)
