"""The studio: display, comparison and ad images composed from products through ptx models."""
