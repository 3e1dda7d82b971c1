"""distribution's use cases, one function each, beside the domain: views, the worker and tests
call them with the context (``distribution.context.Distribution``), the session of the caller's
transaction and who acts. They do the repository writes, the calls to key-manager and the outbox
events; they raise the lib's ``Refusal`` (never ``ApiError``) and return records, which the API
shapes into its answers.

- ``retailers``: add a retailer, update it, rotate its credentials;
- ``allocations``: allocate keys to a retailer (the saga with key-manager), release an allocation;
- ``sales``: a retailer's sale and return.
"""
