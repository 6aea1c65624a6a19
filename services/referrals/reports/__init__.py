"""Indicators for programme coordinators (issue 8): ``GET /v1/reports/indicators``.

Where the figures come from, without a cross-database join: the referrals service owns
referrals and their outcomes; the people's non-identifying attributes (sex, birth year,
nationality, population type, region, registration time, statistics opposition, erased)
are kept here in ``report_people``, a projection fed by the registry's events
(``projection.project_profile``, exactly once through the inbox) and rebuilt on demand
(``projection.rebuild``, ``ruta rebuild-report-people``).

Semantics (README, "Reports"):

* people registered: ``registered_at`` in the period;
* referral indicators: the referrals *created* in the period (a cohort) and what became of
  them so far: status, completion, outcomes; ``overdue`` is as of now;
* age band: the age reached in the year of the period's end (``to``, or today);
* people who opposed statistics are left out everywhere; cancelled people still count;
* every count cell (a total or a disaggregated cell) below ``RUTA_REPORT_MIN_CELL`` is
  suppressed, and so is a second cell wherever one suppressed cell could be recovered from
  a published total (``suppression``). A sum, median or rate is hidden with its count.

PostgreSQL computes every cell in one statement (``GROUPING SETS``, ``percentile_cont``);
SQLite (the embedded shape, small) aggregates the same row-level query in Python.

The package, in the order a request meets it: ``api`` (the route), ``scope`` (whose figures
the caller may see), ``indicators`` (computes a report), ``queries`` (the row-level SQL and
its measures), ``cells`` (aggregation, per database), ``suppression`` (small cells hidden),
``rendering`` (JSON body and CSV); ``projection`` keeps ``report_people`` up to date.
"""
