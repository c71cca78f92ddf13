#!/usr/bin/env python3
"""Writes edge_cases.txt: one hand-made case per line, as raw bytes (some lines hold invalid UTF-8 on
purpose). Readers split on b"\\n" only and decode each line with U+FFFD replacement."""
import os

CASES = [
    # accents, composed and decomposed
    "Café naïve résumé", "Cafe\u0301 nai\u0308ve re\u0301sume\u0301", "ÅNGSTRÖM Ærø Œuvre straße STRASSE",
    "e\u0301\u0301\u0301x", "\u0301leading combining mark", "İstanbul ΟΔΟΣ Σίσυφος ǅemal ǈ ǋ",
    "ﬁnancial ﬂuid ﬀ Ⅷ ① ㎏ ½", "Ωmega Kelvin K Ångström Å",
    # CJK including extensions and compatibility ideographs
    "中文字符测试：你好，世界。", "日本語のテキスト、カタカナ・ひらがな", "한국어 텍스트입니다", "𠀀𠀁 𪜀 𫝀 𫠠 𬺰 𰀀 丽 豈更",
    "㐀㐁 䶵 \u9fff\u9fa5 mixed中文and English",
    # emoji and ZWJ sequences
    "I ❤️ tokenizers 😀😃 👍🏽", "family 👨\u200d👩\u200d👧\u200d👦 flag 🇩🇪 🏳️\u200d🌈", "🥰🫠🪿 new emoji",
    # zero-width and control characters
    "zero\u200bwidth\u200cnon\u200djoiner\u2060word\ufeffbom", "tab\there\rcarriage\x0bvt\x0cff\x85nel",
    "ctrl\x01\x02\x1b[0m\x7fdel", "nul\x00inside", "soft\u00adhyphen", "line\u2028sep\u2029para",
    "nbsp\u00a0thin\u2009ideo\u3000space", "\u200b\u200bleading zero width", "trailing zero width\u200b",
    # replacement character, private use, unassigned
    "replacement \ufffd char", "private \ue000\uf8ff \U000f0000 use", "unassigned \u0378 \U0001fffe \U000e0001 tag",
    # scripts with marks
    "العربية: مَرْحَبًا بِكُمْ", "हिन्दी देवनागरी क्षत्रिय", "ภาษาไทย สวัสดีครับ", "עִבְרִית", "Ελληνικά κείμενο",
    "Tiếng Việt có dấu", "Русский текст, ЁЖИК", "ⅰⅱⅲ ℌ ℍ ℕ",
    # long words
    "a" * 100, "a" * 101, "x" + "é" * 99, "é" * 100, "é" * 101, "supercalifragilistic" * 5, ("supercalifragilistic" * 5) + "s",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    # numbers and punctuation
    "$1,234.56 and 3.14159, 1e-10, 10% -5 +7 (v2.0) [1] §12(b)(iii) 2024-01-31T12:00:00Z",
    "e-mail: someone@example.com, url: https://example.com/a_b?c=d&e=f#g", "Mr. O'Neil's \"quoted\" — dash – en … ellipsis",
    "«guillemets» „quotes“ ‘single’ ¿qué? ¡sí! 「括弧」 【】", "a.b.c...d!!!e???f,,,g;;;h::: i~`^|\\",
    "don't won't it's they're we've I'm", "C++ C# F# .NET node.js",
    # special tokens in text
    "[CLS] [SEP] [MASK] [PAD] [UNK] [unused1] [cls] [mask]", "a[MASK]b[SEP]c", "[[MASK]] [MASK][MASK]",
    # whitespace only and empty
    "", "   ", "\t\t", " leading and trailing spaces  ", "multiple     spaces\t\ttabs",
]
INVALID_UTF8 = [
    b"invalid \xff byte", b"truncated \xe2\x82 euro", b"overlong \xc0\xaf slash", b"surrogate \xed\xa0\x80 half",
    b"lone continuation \x80\x80 bytes", b"mixed \xf0\x9f\x98 emoji start \xf0\x9f\x98\x80 ok",
]


def main() -> None:
    lines = [case.encode("utf-8") for case in CASES] + INVALID_UTF8
    for line in lines:
        assert b"\n" not in line
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "edge_cases.txt"), "wb") as out:
        out.write(b"\n".join(lines) + b"\n")


if __name__ == "__main__":
    main()
