"""Plain-Python rules of the key manager: no Flask, no SQL."""
