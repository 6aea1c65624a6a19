"""Small common library of Ruta de Empleabilidad: plumbing every process shares.

It imports nothing from ``services`` or ``gateway`` and holds no domain schemas.
"""
