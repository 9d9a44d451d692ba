"""datasteward: a privacy-operations engine driven by one policy file.

The public API is deliberately small; everything else is private to the
package and may change without notice."""

from datasteward.errors import PolicyLoadError, StewardError
from datasteward.policy import LoadedPolicy, Policy, load_policy_file, parse_policy

__version__ = "0.1.0"

__all__ = [
    "LoadedPolicy",
    "Policy",
    "PolicyLoadError",
    "StewardError",
    "__version__",
    "load_policy_file",
    "parse_policy",
]
