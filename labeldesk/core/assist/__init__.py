"""Semi-automatic tools, all local: each returns an ordinary geometry the user can edit."""
