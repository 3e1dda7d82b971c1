"""The portal's use cases, one function each, beside the domain: each takes the context
(``PortalState``), the session of the caller's transaction and the ``Actor``, does the repository
writes, the audit entry and the developer.events event, and returns what it recorded (the public
shape, which the audit log keeps as ``after``). They refuse with the lib's ``Refusal``; views
authorize the caller first and pass the rows they resolved.

- ``accounts``: register a studio, update it, the Admin Service's verification decision;
- ``team``: invite, revoke an invitation, accept or decline one, change a member's role, remove one;
- ``games``: create, update, delete a game, update its metadata, set its pricing;
- ``publishing``: preflight, submit a version, the moderation decision, publish (now or
  scheduled; the worker's ``release_due``), unpublish;
- ``apikeys``: create, list, revoke, roll CI API keys, revoke those of a departing member,
  introspect a key or upload token, the worker's apikey.expiring notices;
- ``trusted_publishing``: trust a CI identity, list, delete, exchange an identity token for an
  upload token;
- ``finance`` (a package): the ledger's entries, what sales and store revenue post and the
  release of holds, payouts and their settings, the platform admins' levers.
"""
