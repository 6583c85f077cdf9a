"""Realistic demo data in bulk: `helpdesk demo load`."""
