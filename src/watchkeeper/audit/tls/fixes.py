"""The exact fixes the TLS findings recommend, for nginx and Caddy: one place to keep them
current. ``NAME`` is replaced with the site's name where a command needs it."""

from __future__ import annotations

PROTOCOLS_FIX = (
    "nginx: `ssl_protocols TLSv1.2 TLSv1.3;` in the server (or http) block, then "
    "`nginx -t && systemctl reload nginx`. "
    "Caddy: `tls { protocols tls1.2 tls1.3 }` in the site block (its default)."
)
TLS13_FIX = (
    "nginx: `ssl_protocols TLSv1.2 TLSv1.3;` (needs OpenSSL 1.1.1 or later). "
    "Caddy: offers TLS 1.3 by default: remove a `protocols` line that stops at tls1.2."
)
CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
CIPHERS_FIX = (
    f"nginx: `ssl_ciphers {CIPHERS};` and `ssl_prefer_server_ciphers off;` "
    "(ECDHE key exchange, AEAD ciphers only: Mozilla's intermediate profile without DHE). "
    "Caddy: its default suites are all ECDHE with AEAD: remove `ciphers` from the site's "
    "`tls { }` block."
)
RENEW_FIX = (
    "Renew now: `certbot renew` (or `certbot certonly --force-renewal -d NAME`), then "
    "`systemctl reload nginx`; check that renewal runs by itself: "
    "`systemctl list-timers 'certbot*'`. Caddy renews on its own: look for ACME errors in "
    "`journalctl -u caddy`."
)
CHAIN_FIX = (
    "nginx: `ssl_certificate` must name the full chain, leaf first then each intermediate "
    "(certbot: `/etc/letsencrypt/live/NAME/fullchain.pem`, not `cert.pem`). "
    "Caddy sends the full chain of the certificates it manages."
)
PUBLIC_CA_FIX = (
    "Use a certificate from a public CA: `certbot --nginx -d NAME` (Let's Encrypt), or let "
    "Caddy obtain one (a site address with the public name)."
)
KEY_FIX = (
    "Issue a new certificate on a stronger key: `certbot certonly --key-type ecdsa "
    "--elliptic-curve secp256r1 -d NAME` (or `--rsa-key-size 2048`); Caddy uses ECDSA "
    "P-256 keys by default."
)
STAPLING_FIX = (
    "nginx: `ssl_stapling on; ssl_stapling_verify on; ssl_trusted_certificate "
    "/etc/letsencrypt/live/NAME/chain.pem; resolver 127.0.0.53;`. Caddy staples OCSP "
    "responses by default."
)
HSTS_VALUE = "max-age=63072000; includeSubDomains; preload"
HSTS_FIX = (
    f'nginx: `add_header Strict-Transport-Security "{HSTS_VALUE}" always;` in the https '
    f'server block. Caddy: `header Strict-Transport-Security "{HSTS_VALUE}"`. '
    "Drop `preload` unless every subdomain serves https and you mean to submit the domain "
    "to hstspreload.org."
)
