"""Events: the hub that collects the services' outboxes into one ordered feed, the feed
partners read, the webhooks it fans out to (subscriptions, signing, the delivery worker),
and the signed callbacks ministry systems send in.

Everything here is at least once: the feed dedups by event id, the consuming services by
their inbox, inbound messages by their webhook-id; a subscriber can dedup by the webhook-id
we send.
"""
