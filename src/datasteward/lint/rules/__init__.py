"""Rule modules of the linter, one per area of the policy. Each exports
``RULES``; :mod:`datasteward.lint.registry` joins them in code order."""
