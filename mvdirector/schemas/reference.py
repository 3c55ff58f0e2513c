"""What the reference inspection sees in a portrait: faces, landmarks, identity."""

from __future__ import annotations

from pydantic import Field, model_validator

from mvdirector.schemas.base import Contract


class Face(Contract):
    """A detected face: box (x0, y0, x1, y1) in pixels, 68 landmarks, 128-d identity embedding."""

    box: tuple[int, int, int, int]
    score: float = 1.0
    landmarks: list[tuple[float, float]] = Field(default_factory=list)
    embedding: list[float] = Field(default_factory=list)

    @property
    def area(self) -> int:
        """Box area in pixels."""
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)


class ReferenceInfo(Contract):
    """The singer's portrait as inspected once: size, faces and which face is the singer."""

    path: str
    sha256: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    faces: list[Face] = Field(default_factory=list)
    primary: int | None = None
    warnings: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _primary_in_range(self) -> ReferenceInfo:
        if self.primary is not None and not (0 <= self.primary < len(self.faces)):
            raise ValueError(f"primary face index {self.primary} is out of range 0..{len(self.faces) - 1}")
        return self

    @property
    def primary_face(self) -> Face | None:
        """The singer's face, if one was found."""
        return None if self.primary is None else self.faces[self.primary]
