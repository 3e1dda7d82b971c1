"""Plain Python: events to rows, report shapes, who may see what."""
