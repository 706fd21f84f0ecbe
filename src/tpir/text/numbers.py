"""The numbers of a prompt: which of its digits state a strength, and each strength checked on its scale.

The prompt parser (``tpir.text.parsing``) ties each number to a category; this module says what counts as
a number. A number is a decimal ("25", "0.4", ".5"), perhaps a percentage ("40%"); a multiple is written
around an "x" ("4x", "x4", "4×": the "x" is a number name of the lexicon, see ``PromptParser``). Sizes are
no strength and are not read, so that "upscale to 4K" or "shot at 3x zoom" state no factor: display and
video sizes ("4K", "1080p"), dimensions ("640x480"), pixels, megapixels, dots per inch and zooms.
"""

from __future__ import annotations

import re

from tpir.text.encoder import PromptError
from tpir.text.lexicon import Vocabulary

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(%?)")
# A letter followed by a digit or a digit by a letter ("sigma25", "25sigma") are read as two words.
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_SIZE = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?(?:"
    r"[kp]\b"  # 4k, 1080p
    r"|\s*x\s*\d+(?:\.\d+)?\b"  # 640x480, 1920 x 1080
    r"|\s*(?:px|pixels?|mp|mpx|megapixels?|dpi|ppi)\b"
    r"|\s*x\s+(?:(?:optical|digital|hybrid)\s+)?zoom)"  # 3x zoom
)


def prepared_prompt(prompt: str) -> str:
    """``prompt`` as the parser reads it: lower case, "=" and ":" as spaces ("sigma=25"), "×" as "x", sizes
    blanked out, and letters parted from digits ("sigma25" is "sigma 25", "4x" is "4 x")."""
    text = prompt.lower().replace("=", " ").replace(":", " ").replace("×", "x")
    text = _SIZE.sub(lambda size: " " * len(size.group()), text)
    return _LETTER_DIGIT.sub(" ", text)


def stated_numbers(part: str) -> list[tuple[float, str, tuple[int, int]]]:
    """(value, as written, (start, end) of its digits) of each number in ``part`` (a prepared prompt's)."""
    return [(float(n.group(1)), n.group(0).strip(), n.span(1)) for n in _NUMBER.finditer(part)]


def checked_number(vocabulary: Vocabulary, number: float, written: str, number_name: str | None) -> float:
    """``number`` on the category's scale (a percentage of a 0-1 range is divided by 100), in range.

    Args:
        vocabulary: the words and range of the category the number was tied to.
        number: the value as written.
        written: the number as written ("40%"), for the message.
        number_name: the number name the prompt gave it ("sigma"), or None; a one-character name ("σ",
            "x") is reported by the category's first number name.

    Raises:
        PromptError: the category takes no number, or ``number`` is outside its range, naming the range.
    """
    if vocabulary.number_range is None:
        raise PromptError(f"{written}: {vocabulary.category} takes no number.")
    if written.endswith("%") and vocabulary.number_range[1] <= 1:
        number /= 100
    name = number_name if number_name and len(number_name) > 1 else None
    name = name or (vocabulary.number_names[0] if vocabulary.number_names else "number")
    try:
        return vocabulary.check_number(number, name)
    except ValueError as error:
        raise PromptError(str(error)) from None
