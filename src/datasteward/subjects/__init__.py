"""Data subjects: who a person is to the engine, found by encrypted identities."""

from datasteward.subjects.service import SubjectDirectory

__all__ = ["SubjectDirectory"]
