"""Torch-only networks, camera math and samplers; nothing here knows about songs or files."""
