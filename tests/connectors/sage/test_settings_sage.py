"""The sage100 source's settings: the password reaches the source, never the file or the logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.sage.source import Sage100Source
from connectors.settings import load_settings
from connectors.sources import build_source
from core.errors import InputError

CONFIG = """\
[[companies]]
id = "bijou"
name = "Bijouterie Lyonnaise SA"

[companies.source]
kind = "sage100"
url = "{url}"
password_env = "RELANCE_SAGE_PASSWORD"
accounts = ["411", "416"]

[companies.source.write_back]
reminder_level = "Relance niveau"
"""


def write(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "relance.toml"
    path.write_text(CONFIG.replace("{url}", url), encoding="utf-8")
    return path


def test_the_password_from_the_environment_reaches_the_source(tmp_path: Path) -> None:
    path = write(tmp_path, "mssql+pymssql://relance_ro@srv-sage:1433/BIJOU")
    settings = load_settings(path, {"RELANCE_SAGE_PASSWORD": "s3cret"})
    company = settings.companies[0]
    source = build_source(company.source.kind, company.source_options(), company=company.id)
    assert isinstance(source, Sage100Source)
    assert source.options.password == "s3cret"
    assert source.options.accounts == ("411", "416")
    assert source.options.write_back.reminder_level == "Relance niveau"
    assert "s3cret" not in repr(source) and "s3cret" not in repr(settings)


def test_a_password_written_in_the_url_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "mssql+pymssql://relance_ro:oops@srv-sage/BIJOU")
    with pytest.raises(InputError) as caught:
        load_settings(path, {"RELANCE_SAGE_PASSWORD": "s3cret"})
    assert "holds a password" in str(caught.value) and "oops" not in str(caught.value)
