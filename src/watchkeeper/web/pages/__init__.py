"""Server-rendered pages: the dashboard, the account pages, public status pages and badges."""
