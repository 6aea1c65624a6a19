"""Vacancies of the public employment services (issue 20): posted and synchronised by the
employment service organisations, read by caseworkers, and applied to through a referral."""
