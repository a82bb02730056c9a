"""The notification center: a durable outbox, channels, preferences, the in-app feed.

Other packages call one thing: `runtime.notify.notifier.notify(key=..., topic=..., user_ids=...,
subject=..., text=..., html=...)` (or `template=` and `data=`), see notifier.py.

    topics.py       what users can be told about, which channels exist, defaults
    notifier.py     the entry point: fan out to each user's chosen channels, in one transaction
    outbox.py       notifications and deliveries in the database; claims, leases, retries, dead
    backoff.py      when to retry: exponential backoff with jitter, Retry-After as a floor
    worker.py       claims due deliveries, renders, hands them to channels, records outcomes
    outcomes.py     the Channel interface and the three outcomes (delivered, retry, permanent)
    render.py       content per recipient: stored text, or a template kind (templates/)
    email.py        SMTP channel: multipart, List-Unsubscribe, stable Message-ID
    smtp.py         pooled SMTP connections (aiosmtplib connects; PIPELINING sends)
    webhook.py      webhook channel (httpx), signed per Standard Webhooks (signing.py)
    endpoints.py    owners' webhook endpoints and secret rotation
    push.py         Web Push channel (pywebpush encryption, httpx), signed with vapid.py
    push_subscriptions.py   owners' browsers that turned push on
    feed.py         the in-app feed channel, its store and the live hub
    stream.py       the feed as Server-Sent Events
    preferences.py  channels per topic per user, and their time zone
    unsubscribe.py  signed one-click unsubscribe links
    routes.py, webhook_routes.py, push_routes.py, admin_routes.py   REST
    service.py      everything assembled for one process
"""
