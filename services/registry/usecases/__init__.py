"""Registry use cases, one module per aggregate or use case. Each opens its own unit of work
and commits once: the change, its audit rows, its outbox events and its idempotency record are
stored together or not at all.

Who may do what (object-level; the gateway checks roles per route as well):

* ``caseworker``, ``coordinator``, ``ngo_partner`` register people for their organisation and
  read, rectify, cancel, merge and export the profiles their organisation registered (in their
  regions), and read the profiles other organisations shared with it by the person's consent;
* ``provider`` reads only profiles shared with its organisation by consent;
* ``coordinator`` of the owning organisation also reads the audit log and the access
  denials (who was refused the person as outside their scope; admins read these too);
  coordinators (their
  organisation), ``admin`` and the services' ``system`` identity read statistics;
* ``admin`` and ``ministry_system`` never read profile data (403): the admin role holds no
  personal or sensitive data;
* sensitive data needs the ``sensitive:read`` permission, and for a reader outside the owning
  organisation a referral consent that covers sensitive data, in writing.

An object outside the caller's scope is 404, never 403 (a 403 would confirm the person is
registered). The visibility rule itself lives in services.registry.access.
"""

from services.registry.usecases.bulk import bulk_create
from services.registry.usecases.cancellation import erase_profile
from services.registry.usecases.consents import (
    check_consent,
    list_consents,
    record_consent,
    withdraw_consent,
)
from services.registry.usecases.denials import read_denials, record_denial
from services.registry.usecases.export import RegistryExport, export_ids, export_registry
from services.registry.usecases.finding import SearchFilters, find_duplicates, search_profiles
from services.registry.usecases.merging import merge_profiles
from services.registry.usecases.oversight import read_audit, statistics
from services.registry.usecases.reading import read_profile
from services.registry.usecases.rectification import update_profile
from services.registry.usecases.registration import create_profile, prepare

__all__ = [
    "RegistryExport", "SearchFilters", "bulk_create", "check_consent", "create_profile",
    "erase_profile", "export_ids", "export_registry", "find_duplicates", "list_consents",
    "merge_profiles", "prepare", "read_audit", "read_denials", "read_profile",
    "record_consent", "record_denial",
    "search_profiles", "statistics", "update_profile", "withdraw_consent",
]
