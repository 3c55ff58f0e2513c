"""Pipeline stages: analyze, inspect_reference, direct, render_shot, assemble."""
