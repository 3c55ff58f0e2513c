"""Sort a render's photos into the singer, looks of the singer and scenes, and refuse another person.

The first photo is the singer. Another photo whose main (largest) face is the same person — dlib
identity distance to the singer's face within ``SAME_PERSON_DISTANCE`` — is a *look*; a photo
without a face, or whose largest face is small in it (``SCENE_FACE_SHARE`` of its height), is a
*scene*. A photo whose main face is someone else is refused, or kept as a scene when others are
allowed. Inspections are remembered in this process by content, so the pre-flight's check and
the pipeline's reference step look at each photo once.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from mvdirector.errors import InputError
from mvdirector.rules import FRONTAL_TURN, SCENE_FACE_SHARE, SMALL_FACE_PX, reference_ids
from mvdirector.schemas import ReferenceInfo, ReferenceRef, ReferenceSet

from .faces import SAME_PERSON_DISTANCE, embedding_distance, face_warnings, inspect_reference

log = logging.getLogger(__name__)

MEMO_SIZE = 64
_MEMO: OrderedDict[str, ReferenceInfo] = OrderedDict()
_MEMO_LOCK = threading.Lock()


def inspected(sha256: str) -> ReferenceInfo | None:
    """The inspection of the photo with content ``sha256`` made earlier in this process, or None."""
    with _MEMO_LOCK:
        return _MEMO.get(sha256)


def inspect_photo(path: Path) -> ReferenceInfo:
    """``inspect_reference`` of ``path``, remembered in this process by the file's content."""
    from mvdirector.media.atomic import file_sha256

    path = Path(path)
    hit = inspected(file_sha256(path))
    if hit is not None:
        return hit.model_copy(update={"path": str(path)})
    info = inspect_reference(path)
    with _MEMO_LOCK:
        _MEMO[info.sha256] = info
        while len(_MEMO) > MEMO_SIZE:
            _MEMO.popitem(last=False)
    return info


def main_face_px(info: ReferenceInfo) -> int:
    """Height in pixels of the photo's main face; 0 without one."""
    face = info.primary_face
    return 0 if face is None else max(0, face.box[3] - face.box[1])


def shows_a_person(info: ReferenceInfo) -> bool:
    """Whether the photo's main face is large enough to make it a photo of that person (else: a scene)."""
    return main_face_px(info) >= SCENE_FACE_SHARE * info.height


def sort_photos(infos: Sequence[ReferenceInfo], allow_others: bool = False) -> ReferenceSet:
    """The photos (the singer's first) as a `ReferenceSet` of singer, looks and scenes, with ids from file names.

    Raises InputError naming the file and the distance when a photo's main face is another person
    (unless ``allow_others``: then it is a scene), or when the singer's photo has no face to compare with.
    """
    if not infos:
        raise InputError("no photo was given", "pass the singer's photo with --ref")
    ids = iter(reference_ids([Path(i.path).stem for i in infos]))
    singer = infos[0]
    sface = singer.primary_face
    photos = [_as(singer, "singer", next(ids), None, singer.warnings)]
    for info in infos[1:]:
        rid = next(ids)
        name = Path(info.path).name
        own = [w for w in info.warnings if w not in face_warnings(name, info.faces, info.primary)]
        if not shows_a_person(info):
            photos.append(_as(info, "scene", rid, None, own))
            continue
        if sface is None or not sface.embedding:
            raise InputError(
                f"the singer's photo '{Path(singer.path).name}' shows no face, so '{name}' cannot be checked as "
                "the same person",
                "name a photo with the singer's face with --singer, or leave the photos of people out",
            )
        d = round(embedding_distance(info.primary_face.embedding, sface.embedding), 3)  # type: ignore[union-attr]
        if d <= SAME_PERSON_DISTANCE:
            if main_face_px(info) < SMALL_FACE_PX:
                own.append(f"the face in {name} is only {main_face_px(info)} px tall; close-ups use another photo")
            photos.append(_as(info, "look", rid, d, own))
        elif allow_others:
            own.append(f"{name} shows someone else (identity distance {d:.2f} to the singer); used as a scene")
            photos.append(_as(info, "scene", rid, d, own))
        else:
            raise InputError(
                f"'{name}' shows another person: identity distance {d:.2f} to the singer in "
                f"'{Path(singer.path).name}' (the same person is within {SAME_PERSON_DISTANCE:g})",
                "leave it out, name the singer's photo with --singer, or pass --allow-others to use it as a scene",
            )
    return ReferenceSet(photos=photos)


def _as(info: ReferenceInfo, kind: str, rid: str, distance: float | None, warnings: list[str]) -> ReferenceInfo:
    return info.model_copy(update={"id": rid, "kind": kind, "singer_distance": distance, "warnings": warnings})


def check_photos(paths: Sequence[Path], allow_others: bool = False) -> ReferenceSet:
    """Inspect and sort the photos (the singer's first); the pre-flight's check of several photos."""
    return sort_photos([inspect_photo(p) for p in paths], allow_others)


def reference_ref(info: ReferenceInfo) -> ReferenceRef:
    """How a plan lists a photo: id, file, content, kind, and its main face's height and whether it is frontal."""
    from stages.render.framing import face_turn

    face = info.primary_face
    frontal = None if face is None else abs(face_turn(face)) <= FRONTAL_TURN
    return ReferenceRef(
        id=info.id, path=info.path, sha256=info.sha256, kind=info.kind, face_px=main_face_px(info), frontal=frontal
    )
