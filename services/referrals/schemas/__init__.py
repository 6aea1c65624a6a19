"""The referrals service's public payloads, one module per aggregate (``catalogue``,
``recommendations``, ``referrals``, ``pathways``; ``types`` for the field types they share).
Inputs forbid unknown fields (422): read-only fields such as ``status``,
``provider_organisation_id`` or ``version`` can never be mass-assigned."""
