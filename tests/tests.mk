# tests/ build fragment: target programs for integration tests.
