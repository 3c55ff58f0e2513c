"""Casting: which photo each shot shows — the singer's, another look of the singer, or a scene.

Rules, in the order the director applies them:

- every section type keeps one look: the chorus always in the same outfit, a verse in another
  (types in ``LOOK_ORDER`` take the singer and the looks in turn, the chorus the singer's own photo);
  looks left over once every sung section type has one change the outfit of a repeated section
  (the second verse, then the third …; never the chorus, which anchors the video);
- scenes take the instrumental passages, intros and outros where nobody sings (every other shot,
  the first one included, framed with the style's wider framings) and wide establishing shots (the
  first shot of a section when the style framed it wide or extreme wide); each section type keeps one
  scene (the chorus always opens on the same place), the outro the intro's;
- a close-up always shows a photo with a good frontal face of the singer: the section's look when it
  has one, else the best of them (when none is good, the largest face); no close-ups when no photo has a face;
- a take (a shot continuing the previous shot's camera) never changes photo.

With the singer's photo alone every shot shows it and the director's choices are exactly those of one photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mvdirector.rules import CLOSE_FRAMINGS, SMALL_FACE_PX
from mvdirector.schemas import ReferenceInfo, ReferenceRef, ReferenceSet

LOOK_ORDER = ("chorus", "verse", "bridge", "pre_chorus", "intro", "outro", "instrumental", "part")
"""Section types in the order they are given a look: the first takes the singer's photo, the next a look …"""
SCENE_SECTIONS = ("intro", "outro", "instrumental")
"""Sections whose unsung shots go to scenes (every other one, from the first)."""
WIDE_FRAMINGS = ("wide", "extreme_wide")
"""Framings of an establishing shot: the first shot of a section framed this wide shows a scene."""


def good_for_close_up(ref: ReferenceRef) -> bool:
    """A photo of the singer whose face is large and frontal enough to fill a close-up."""
    return ref.shows_singer and (ref.face_px or 0) >= SMALL_FACE_PX and ref.frontal is not False


@dataclass
class Casting:
    """The photos of a plan and the choices made so far (looks per section type and per repeat, scenes)."""

    refs: list[ReferenceRef]
    looks: dict[tuple[str, int], ReferenceRef] = field(default_factory=dict)
    scene_of: dict[tuple[str, int], ReferenceRef] = field(default_factory=dict)
    spare: list[ReferenceRef] = field(default_factory=list)
    changes: dict[tuple[str, int, int], ReferenceRef] = field(default_factory=dict)

    @classmethod
    def of(cls, photos: ReferenceSet | ReferenceInfo | None, labels: list[tuple[str, int]]) -> Casting:
        """The casting of ``photos`` for a song whose sections are ``labels`` ((label, group), in order)."""
        from stages.reference import reference_ref

        if photos is None:
            return cls([])
        infos = photos.photos if isinstance(photos, ReferenceSet) else [photos]
        cast = cls([reference_ref(p) for p in infos])
        people = cast.people
        keys = sorted({_look_key(lab, grp) for lab, grp in labels},
                      key=lambda k: (LOOK_ORDER.index(k[0]) if k[0] in LOOK_ORDER else len(LOOK_ORDER), k[1]))
        sung = [k for k in keys if k[0] not in SCENE_SECTIONS]  # intros, outros, instrumentals mostly show scenes
        for i, key in enumerate(sung + [k for k in keys if k[0] in SCENE_SECTIONS]):
            cast.looks[key] = people[i % len(people)]
        cast.spare = people[len(sung):]
        return cast

    @property
    def people(self) -> list[ReferenceRef]:
        """The singer's photo and the looks."""
        return [r for r in self.refs if r.shows_singer]

    @property
    def scenes(self) -> list[ReferenceRef]:
        """The photos of places (and of other people, when allowed)."""
        return [r for r in self.refs if not r.shows_singer]

    def look(self, label: str, group: int, occurrence: int = 1) -> ReferenceRef | None:
        """The photo a section is shown in: its type's, or a spare look for a repeat (None without photos)."""
        key = _look_key(label, group)
        change = (*key, occurrence)
        if occurrence > 1 and label != LOOK_ORDER[0] and label not in SCENE_SECTIONS and change not in self.changes \
                and len(self.changes) < len(self.spare):  # spare looks go to repeats in the order they come
            self.changes[change] = self.spare[len(self.changes)]
        return self.changes.get(change) or self.looks.get(key) or (self.refs[0] if self.refs else None)

    def close_up(self, base: ReferenceRef | None) -> ReferenceRef | None:
        """The photo a close-up of a shot based on ``base`` shows: ``base`` when its face fills one, else the
        photo with the largest good frontal face; when none is good, ``base`` if it has a face, else the
        largest face (None when no photo has one)."""
        if base is None or good_for_close_up(base):
            return base
        good = [r for r in self.people if good_for_close_up(r)]
        if good:
            return max(good, key=lambda r: r.face_px or 0)
        if base.shows_singer and base.face_px:
            return base
        faces = [r for r in self.people if r.face_px]
        return max(faces, key=lambda r: r.face_px or 0) if faces else None

    def close_face_px(self, base: ReferenceRef | None) -> int | None:
        """Face height a close-up based on ``base`` would have: None when unknown (no photos), 0 when no photo
        has a face to fill one."""
        if base is None:
            return None
        best = self.close_up(base)
        return 0 if best is None else best.face_px

    def scene_slot(self, label: str, index: int, singing: bool) -> bool:
        """Whether a shot (``index`` in its section) of an unsung intro, outro or instrumental shows a scene."""
        return bool(self.scenes) and label in SCENE_SECTIONS and not singing and index % 2 == 0

    def establishing(self, index: int, framing: str) -> bool:
        """Whether a section's shot is a wide establishing shot, which shows a scene."""
        return bool(self.scenes) and index == 0 and framing in WIDE_FRAMINGS

    def scene(self, label: str, group: int) -> ReferenceRef:
        """The scene of a section type (each keeps one, taken in turn; the outro takes the intro's)."""
        key = _look_key(label, group)
        if key not in self.scene_of:
            intro = self.scene_of.get(("intro", 0))
            turn = len([k for k in self.scene_of if k != ("outro", 0)])
            self.scene_of[key] = intro if key == ("outro", 0) and intro else self.scenes[turn % len(self.scenes)]
        return self.scene_of[key]


def _look_key(label: str, group: int) -> tuple[str, int]:
    """Sections of music without verse/chorus form (``part``) keep a look per part; others per label."""
    return (label, group if label == "part" else 0)


def is_close(framing: str) -> bool:
    """Whether a framing fills the frame with the face."""
    return framing in CLOSE_FRAMINGS
