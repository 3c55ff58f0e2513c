"""Text prompts for a shot from style + section + framing + move + lyric line."""

from __future__ import annotations

from stages.templates import ResolvedGrammar, ShotTemplate

SECTION_WORDS = {
    "intro": "opening",
    "verse": "verse",
    "pre_chorus": "build-up",
    "chorus": "chorus",
    "bridge": "bridge",
    "instrumental": "instrumental break",
    "outro": "closing",
    "part": "passage",
}


SCENE_FRAMINGS = {
    "medium": "medium shot of the place",
    "wide": "wide shot of the place",
    "extreme_wide": "extreme wide establishing shot of the place",
}


def mood(energy: float) -> str:
    """A word for the energy of a shot."""
    if energy >= 0.75:
        return "explosive energy"
    if energy >= 0.5:
        return "driving energy"
    if energy >= 0.25:
        return "steady mood"
    return "hushed, still mood"


def shot_prompt(
    template: ShotTemplate,
    grammar: ResolvedGrammar,
    section: str,
    framing: str,
    move: str,
    energy: float,
    lyric_line: str | None,
    singing: bool,
    scene: bool = False,
) -> str:
    """One prompt: style, section fragment, framing and move words, mood and what is sung (or, for a scene
    without the singer, the place)."""
    parts = [template.prompt, f"{SECTION_WORDS.get(section, section)}: {grammar.prompt}".rstrip(": ")]
    framed = SCENE_FRAMINGS.get(framing, SCENE_FRAMINGS["wide"]) if scene else template.framing_phrase(framing)
    parts.append(f"{framed}, {template.move_phrase(move)}")
    parts.append(mood(energy))
    if scene:
        parts.append("no people in frame, the music carries the scene")
    elif lyric_line:
        parts.append(f'the singer sings "{lyric_line.strip()}"')
    elif singing:
        parts.append("the singer sings")
    else:
        parts.append("the singer listens, mouth closed")
    return "; ".join(p for p in parts if p)
