"""Portable records between the deployments of two countries (issue 21): this deployment's
keys, the peers it trusts, and the bundle (a VC 2.0 Verifiable Presentation signed as a
JOSE JWT, then encrypted to the destination). See docs/decisions/0011-portable-records.md.
"""
