"""One function per use case, called by the views."""
