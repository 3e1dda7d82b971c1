"""The gateway's use cases, one function each, called by the views, the consumers and the worker
alike (none of them sequences key-manager, antifraud, records and events itself):

- ``redeem.redeem(gw, session, attempt)``: a redemption, steps 1 to 7 of the README;
- ``validate.validate(gw, attempt)``: its dry run (``POST /validate``);
- ``check_region.check_region(gw, identities, ...)``: the region check of ``POST /check-region``;
- ``reviews``: pending reviews, ``apply_case_decision(gw, session, data)`` (a fraud case decided),
  ``reassess_holds(gw)`` (holds made while antifraud was unavailable), ``complete_review``,
  ``reject_review``;
- ``lockout``: reserving and giving back an attempt's place in the brute-force windows;
- ``checks``: the steps redeem, validate and check_region share.

A check that refuses answers a ``Refusal`` as a value (``gamekeys_platform.refusals``); the route
picks the HTTP status and the shape of the answer from it. What no caller can act on is raised
(a ``Refusal`` too, answered by the app as its code's error).
"""
