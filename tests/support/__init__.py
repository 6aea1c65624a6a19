"""What tests share: databases, tokens, payloads and doubles. Tests import from here,
never from a conftest module (conftest modules hold fixtures only)."""
