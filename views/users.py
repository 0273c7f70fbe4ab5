"""Admin: who may sign in, with which role."""

from ui import users

users.page()
