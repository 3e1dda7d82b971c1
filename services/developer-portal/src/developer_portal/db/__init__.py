"""Tables and queries of the developer_portal schema."""
