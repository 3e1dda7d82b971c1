"""The key manager's use cases (the service layer): one function per thing a caller can do,
``use_case(km, session, ...)``, sequencing the repository calls, the history rows and the outbox
event in the caller's transaction. Views, the worker and tests all call these; none of them
commits (the caller's ``@transactional``, ``@idempotent`` or ``km.db.transaction()`` does).

Refusals are plain exceptions: ``gamekeys_platform.refusals.Refusal`` in §3's vocabulary, which
the app answers as its code's error. The domain's own exceptions (``TransitionRefused``,
``PlanRefused``) become Refusals in one place, ``usecases/refusals.py``.

- ``keys``: hold, release, activate (the internal API's conditional updates), and a person's
  status change of one key (PATCH /{keyId}/status, POST /{keyId}/revoke);
- ``sales``: allocate keys to a retailer, release an allocation, mark keys sold, return them;
- ``batches``: generate now (/generate), queue a batch, cancel and revoke a batch, and the
  worker's side of generation (complete, fail) and expiry.
"""
