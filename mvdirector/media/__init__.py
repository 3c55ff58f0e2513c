"""Audio, image and video IO, and atomic file writes (DESIGN §2 `media`)."""
