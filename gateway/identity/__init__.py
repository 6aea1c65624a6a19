"""Who may call: organisations, their machine clients, access tokens.

Machine clients get tokens through the OAuth2 client credentials grant, signed with our own
keys; people bring tokens from trusted OIDC issuers; development tokens are minted with our
keys outside production. The front door (``gateway.edge``) verifies every token here.
"""
