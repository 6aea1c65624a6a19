"""Credentials use cases. Each opens its own unit of work and commits once.

- :mod:`.credentials` — add, read, list a person's credentials and their history;
- :mod:`.transitions` — the verification lifecycle (recognition, suspension, revocation…);
- :mod:`.issuance` — export as a verifiable credential, the issuer's keys and status lists;
- :mod:`.verification` — the public check of a verifiable credential;
- :mod:`.handlers` — events of other services (a person erased, merged, moved).

Who may do what, and see which credential, is :mod:`services.credentials.access`.
"""
