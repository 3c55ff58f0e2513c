"""Torch models of the dit renderer: camera rays and adapter, windows, motion frames, the shot pipeline.

Nothing here knows about songs or plans; ``stages.dit`` turns plan objects into requests.
"""
