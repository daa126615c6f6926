"""Rewrite the settings table in README.md from datameta.config.SPECS."""

import re
from pathlib import Path

from datameta.config import settings_table_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings table -->", "<!-- end settings table -->"

text = README.read_text()
pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
README.write_text(pattern.sub(f"{START}\n{settings_table_markdown()}\n{END}", text))
