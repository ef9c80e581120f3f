"""Tables for people, piped: invoicer lays them out itself (rich takes 13 s for 20,000
rows), and must print exactly what rich would."""

import io
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from invoicer import render

# Letters, digits, punctuation, spaces, wide (CJK) and zero-width (combining) characters,
# emoji, and a few control characters (which rich lays out itself).
CHARACTERS = st.one_of(
    st.characters(min_codepoint=32, max_codepoint=126),
    st.sampled_from("éß漢字テキスト€😀\u0301\u200b \u00a0"),
    st.sampled_from("\t\n\r\x1b\x7f"),
)
TEXTS = st.text(CHARACTERS, max_size=12)


def _printed(draw_table) -> str:
    out, sys.stdout = sys.stdout, io.StringIO()
    try:
        draw_table()
        return sys.stdout.getvalue()
    finally:
        sys.stdout = out


@st.composite
def tables(draw):
    columns = draw(st.lists(st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8),
                            min_size=1, max_size=5, unique=True))
    rows = draw(st.lists(st.lists(st.one_of(TEXTS, st.none(), st.integers(-10**6, 10**6), TEXTS.map(Text)),
                                  min_size=len(columns), max_size=len(columns)), max_size=6))
    money = draw(st.sets(st.sampled_from(columns)))
    title = draw(st.none() | TEXTS)
    return title, columns, rows, money


@settings(max_examples=400, deadline=None)
@given(tables())
def test_a_piped_table_is_what_rich_prints(table):
    title, columns, rows, money = table
    ours = _printed(lambda: render.table(title, columns, rows, money=money))
    cells = [[v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in row] for row in rows]
    theirs = _printed(lambda: render._rich_grid(render.console(), title, columns, cells, set(money), set()))
    assert ours == theirs


def test_a_listing_of_thousands_is_laid_out_without_rich():
    """The common case takes the plain path (a control character would take rich's)."""
    assert render._plain_grid(None, ["id", "amount"], [[str(n), "1.00"] for n in range(3)], {"amount"}) == \
        "id  amount\n0     1.00\n1     1.00\n2     1.00\n"
    assert render._plain_grid(None, ["id"], [["a\tb"]], set()) is None
