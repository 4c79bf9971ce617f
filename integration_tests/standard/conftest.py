"""Loads the fixtures and command-line options of Airbyte's standard tests."""

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]
