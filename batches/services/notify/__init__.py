"""Notifications: events written into an outbox with the state change that causes them, then delivered.

- `events`   the writers the services call inside their own transactions (batch ended, sync failing...)
- `checks`   the periodic checks (expiring, results at risk, sync failing, budgets): idempotent
- `budgets`  this month's spend against each budget
- `render`   the payload, the one-line text, the email parts
- `send`     fan-out into deliveries, then sending what is due with retries and back-off
- `deliver`  the one module that talks to the outside for notifications: HTTP POSTs, email, Apprise
- `defaults` the channels the environment defines (NOTIFY_WEBHOOK_URLS, NOTIFY_EMAIL_TO)
"""
