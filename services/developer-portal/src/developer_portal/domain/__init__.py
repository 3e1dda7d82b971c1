"""Plain-Python rules of the developer portal: no Flask, no SQL, tested directly."""
