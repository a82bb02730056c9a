"""Accounts: owners and operators, OAuth tokens and scopes."""
