"""What the reference inspection sees in the photos: faces, landmarks, identity, and what each photo is.

A render has one or more photos. The first (or the one named with ``--singer``) is the singer;
another photo of the same person (identity within dlib's 0.6) is a *look*; a photo without a
face, or with only small faces, is a *scene* (a place, a crowd, an instrument).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from mvdirector.schemas.base import Contract

ReferenceKind = Literal["singer", "look", "scene"]
REFERENCE_KINDS: tuple[str, ...] = ReferenceKind.__args__  # type: ignore[attr-defined]
ReferenceId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
"""A photo's id in a plan: letters, digits, ``_ . -`` (``rules.reference_id`` makes one from a file name)."""


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
    """One photo as inspected once: size, faces, which face is the main one, and what the photo is.

    ``id`` names the photo in a plan (shots say which photo they show); ``kind`` is singer, look or
    scene; ``singer_distance`` is the dlib identity distance of its main face to the singer's.
    """

    id: ReferenceId = "singer"
    kind: ReferenceKind = "singer"
    singer_distance: float | None = None
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


class ReferenceSet(Contract):
    """Every photo of a render, inspected and sorted: the singer first, then the others in the order given."""

    photos: list[ReferenceInfo] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_singer_first(self) -> ReferenceSet:
        ids = [p.id for p in self.photos]
        if len(set(ids)) != len(ids):
            raise ValueError(f"photo ids must be unique: {ids}")
        kinds = [p.kind for p in self.photos]
        if kinds[0] != "singer" or kinds.count("singer") != 1:
            raise ValueError(f"the first photo must be the only singer (kinds: {kinds})")
        return self

    @property
    def singer(self) -> ReferenceInfo:
        """The singer's photo: identity is measured against its face."""
        return self.photos[0]

    @property
    def ids(self) -> list[str]:
        """The photos' ids, singer first."""
        return [p.id for p in self.photos]

    def get(self, ref_id: str | None) -> ReferenceInfo:
        """The photo ``ref_id`` (None: the singer); KeyError when there is none."""
        if ref_id is None:
            return self.singer
        for p in self.photos:
            if p.id == ref_id:
                return p
        raise KeyError(ref_id)
