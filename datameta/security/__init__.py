"""Authentication and authorization: pure rules here, Pyramid wiring at the edge."""
