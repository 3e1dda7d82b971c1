"""HTTP API of the developer portal: flask-smorest blueprints and marshmallow schemas."""
