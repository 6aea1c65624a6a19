"""Referrals use cases, one module per aggregate: ``catalogue`` (programmes, providers),
``recommendations``, ``referrals``, ``pathways``, and ``handlers`` (events from other
services); ``common`` holds what they share. Each opens its own unit of work and commits
once: the change, its history, its outbox events and its idempotency record are stored
together or not at all.

Who may do what (object-level; the gateway checks roles per route first):

* ``caseworker``, ``coordinator``, ``ngo_partner`` make referrals and pathways for people the
  registry lets them see, only with the person's consent to share with the provider; they
  read and cancel the referrals they or their organisation made (in their regions) and
  resume or cancel their organisation's pathways;
* ``provider`` reads the referrals addressed to its organisation (and the pathways that
  contain one) and accepts, rejects, starts, holds, resumes, completes or fails them;
* ``ministry_system`` of the provider's organisation does the same (signed inbound
  callbacks arrive with this identity and ``If-Match: *``);
* ``admin`` edits the catalogue and reads no referral data (403);
* ``system`` (this service's own event handlers) acts on any referral.

A referral or pathway outside the caller's scope is 404, never 403 (the visibility rules:
``services.referrals.access``).
"""
