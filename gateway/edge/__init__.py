"""The gateway's edge: what every request meets before any use case runs.

The front door (size limits, authentication, route policy, rate limits, the signed identity
assertion), the route table saying which service answers which path, the upstreams that
reach those services in-process or over HTTP, and the one merged OpenAPI document.
"""
