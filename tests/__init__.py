"""Tests of the ems integration."""
