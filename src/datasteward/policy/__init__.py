"""Policy as code: the model, its loader and its cross-reference checks."""

from datasteward.policy.loader import LoadedPolicy, load_policy_file, parse_policy
from datasteward.policy.model import Policy

__all__ = ["LoadedPolicy", "Policy", "load_policy_file", "parse_policy"]
