"""The version of lindyn, in one place (read by pyproject.toml and `lindyn --version`)."""

__version__ = "0.2.0"
