"""The Pennylane source: Company API v2 (docs/pennylane.md, /work reference notes).

``client`` talks HTTP (pagination, filters, rate limit, retries, errors),
``models`` parses what Pennylane returns, ``mapping`` turns it into the core
model, ``categories`` writes reminder state back as analytic categories,
``source`` is the ``Source`` the runner drives, ``commands`` the
``relance pennylane`` commands.
"""
