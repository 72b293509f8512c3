"""Chinese place and person names for the synthetic county, drawn from small syllable pools."""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate

COUNTY_NAME = "示范县"  # deliberately not a real county name, although the default code is 滑县's
SEAT_TOWNSHIP_STEM = "城关"  # the county seat's town is traditionally 城关镇

_DIGITS = "零一二三四五六七八九"

# Place-name heads (often a founding clan's surname, or a tree / landform) and tails (庄, 营, 集…),
# the pattern of North China plain villages: 王庄, 柳营, 后赵集.
_PLACE_HEADS = (
    "王李张刘陈杨赵黄周吴孙马郭高宋韩冯董程曹袁邓许田任范石姚孟侯邵史贾丁魏薛牛焦段苗耿安靳申常岳"
    "柳桑枣槐榆梨桃杏沙龙凤鹿白青新留万八"
)
_PLACE_TAILS = "庄寨营屯集店堡楼岗坡湾桥口铺台堤园固洼滩头河城"
_MODIFIERS = "前后东西南北大小上中"
_COMMUNITY_STEMS = (
    "建设路",
    "人民路",
    "解放路",
    "文化路",
    "新华",
    "和平",
    "朝阳",
    "东关",
    "西关",
    "南关",
    "北关",
    "城东",
    "城西",
    "城南",
    "城北",
    "幸福",
    "光明",
    "育才",
    "振兴",
    "兴华",
    "文明",
    "长安",
    "顺河街",
    "府前街",
)

# The most frequent surnames, roughly weighted by national frequency (percent).
_SURNAMES = (
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.7),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("赵", 2.3),
    ("黄", 2.2),
    ("周", 2.1),
    ("吴", 2.0),
    ("徐", 1.7),
    ("孙", 1.5),
    ("胡", 1.3),
    ("朱", 1.3),
    ("高", 1.2),
    ("林", 1.2),
    ("何", 1.2),
    ("郭", 1.2),
    ("马", 1.1),
    ("罗", 0.9),
    ("梁", 0.9),
    ("宋", 0.8),
    ("郑", 0.8),
    ("谢", 0.7),
    ("韩", 0.7),
    ("唐", 0.7),
    ("冯", 0.7),
    ("于", 0.6),
    ("董", 0.6),
    ("程", 0.5),
    ("曹", 0.5),
    ("袁", 0.5),
    ("邓", 0.5),
    ("许", 0.5),
    ("傅", 0.4),
    ("沈", 0.4),
    ("曾", 0.4),
    ("彭", 0.4),
    ("吕", 0.4),
    ("苏", 0.4),
    ("卢", 0.4),
    ("蒋", 0.4),
    ("蔡", 0.4),
    ("贾", 0.4),
    ("丁", 0.4),
    ("魏", 0.4),
    ("薛", 0.3),
    ("叶", 0.3),
    ("牛", 0.3),
    ("焦", 0.3),
    ("段", 0.3),
    ("耿", 0.2),
    ("申", 0.2),
    ("靳", 0.2),
    ("岳", 0.2),
    ("常", 0.2),
)
_SURNAME_CHARS = [s for s, _ in _SURNAMES]
_SURNAME_CUM = list(accumulate(w for _, w in _SURNAMES))
_GIVEN_MALE = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林国建志文新海东振"
_GIVEN_FEMALE = "芳娜秀英敏静丽艳娟霞燕玲桂兰萍红梅琳莉雪慧婷颖倩晶洁媛雯佳欣月凤春花"


def chinese_number(n: int) -> str:
    """1..99 as Chinese numerals (一, 十, 十一, 二十三), as used in 第一村民小组."""
    if not 1 <= n <= 99:
        raise ValueError(f"chinese_number supports 1..99, got {n}")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def group_name(index: int, community: bool) -> str:
    """村民小组 in a village, 居民小组 in an urban community."""
    return f"第{chinese_number(index)}{'居民' if community else '村民'}小组"


def place_stem(rng: random.Random, modifier_p: float = 0.0) -> str:
    stem = rng.choice(_PLACE_HEADS) + rng.choice(_PLACE_TAILS)
    if rng.random() < modifier_p:
        stem = rng.choice(_MODIFIERS) + stem
    return stem


def unique_stem(rng: random.Random, taken: set[str], modifier_p: float = 0.0) -> str:
    """A place stem not in `taken` (added to it); widens the pool with modifiers if it runs dry."""
    for attempt in range(10_000):
        stem = place_stem(rng, modifier_p if attempt < 200 else 1.0)
        if stem not in taken:
            taken.add(stem)
            return stem
    raise ValueError("ran out of unique place names")


def community_names(rng: random.Random, count: int) -> list[str]:
    """Names of a township seat's urban communities (社区), unique within the township."""
    stems = rng.sample(_COMMUNITY_STEMS, min(count, len(_COMMUNITY_STEMS)))
    taken = set(stems)
    stems += [unique_stem(rng, taken, 0.5) for _ in range(count - len(stems))]
    return [s + "社区" for s in stems]


# Name drawing runs about a million times for a large county, hence bisect / indexing over rng.choices.
def surname(rng: random.Random) -> str:
    return _SURNAME_CHARS[bisect(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])]


def given_name(rng: random.Random, female: bool) -> str:
    pool = _GIVEN_FEMALE if female else _GIVEN_MALE
    n = len(pool)
    first = pool[int(rng.random() * n)]
    return first + pool[int(rng.random() * n)] if rng.random() < 0.65 else first


def person_name(rng: random.Random, family: str | None = None, female: bool | None = None) -> str:
    if female is None:
        female = rng.random() < 0.5
    return (family or surname(rng)) + given_name(rng, female)
