"""Email for apps: SMTP submission and a Mailgun-compatible API into one durable queue,
DKIM signing, delivery through a relay or to MX hosts (or capture into a local inbox),
events, suppressions and signed webhooks.
"""
