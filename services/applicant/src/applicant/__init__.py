"""applicant service."""
