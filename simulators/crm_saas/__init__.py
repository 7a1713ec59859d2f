"""A small SaaS CRM: a JSON HTTP API over SQLite, with the quirks of a real vendor.

Records carry a version (the ``ETag``), writes honour ``If-Match`` and ``Idempotency-Key``,
every change lands in a feed, and admin endpoints let tests edit records out of band and
make the service drop writes silently. Run it with
``python -m simulators.crm_saas --port 18090 --data DIR``.
"""
