"""Bucket tooling: the ``setup-bucket``, ``analyze-logs``, ``prune``, ``warm`` and ``purge`` sub-commands."""
