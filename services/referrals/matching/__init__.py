"""Job matching (issue 20; decisions 0014 and 0016).

The referrals models are imported first: ``matching.models`` needs their ``Base``, and
``services.referrals.models`` imports ``matching.models`` back to register its tables, so a
module of this package imported first would otherwise meet a half-initialised module."""

import services.referrals.models  # noqa: F401
