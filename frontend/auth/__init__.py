"""Logging in and out, and who the logged-in user is (`frontend.auth.session`)."""
