"""The ``gamekeys`` command line: ``push`` a build, ``builds list|status``."""
