"""Fleet scan input checks and progress output, without AWS or an emulator."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from datamap.fleet import Account, accounts_from, discover_stacks, read_accounts_file
from infra.errors import InputError
from pilotctl.cli import main
from pilotctl.scan_cmd import Progress

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv, message", [
    (["scan"], "customer: missing value"),
    (["scan", "acme", "--workers", "2"], "--workers, --history: only valid with --all"),
    (["scan", "acme", "--all"], "pass one customer or --all, not both"),
    (["scan", "--all", "--role-arn", "arn:aws:iam::{account}:role/reader"], "needs --accounts"),
    (["scan", "--all", "--accounts", "123456789012", "--role-arn", "arn:aws:iam::1:role/reader"],
     "expected a template with {account}"),
])
def test_scan_rejects_input(argv, message, tmp_path, capsys):
    code = main([*argv, "--stack-dir", str(tmp_path), "--history", str(tmp_path / "history.sqlite")])
    assert code == 2
    assert message in capsys.readouterr().err


def test_scan_rejects_short_account(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "--all", "--accounts", "1234"])
    assert exit_info.value.code == 2
    assert "expected 12-digit account ids" in capsys.readouterr().err


def test_accounts_from_template():
    accounts = accounts_from(["111111111111", "222222222222"], "arn:aws:iam::{account}:role/reader")
    assert accounts == [Account("111111111111", "arn:aws:iam::111111111111:role/reader"),
                        Account("222222222222", "arn:aws:iam::222222222222:role/reader")]


def test_accounts_file_comments(tmp_path):
    path = tmp_path / "accounts.txt"
    path.write_text("# production\n111111111111  # eu\n\n222222222222\n")
    assert read_accounts_file(path) == ["111111111111", "222222222222"]


def test_accounts_file_bad_line(tmp_path):
    path = tmp_path / "accounts.txt"
    path.write_text("111111111111\nabc\n")
    with pytest.raises(InputError, match="line 2: invalid account id 'abc'"):
        read_accounts_file(path)


def test_discover_stacks_keeps_invalid(tmp_path):
    (tmp_path / "Pulumi.acme.yaml").write_text((ROOT / "Pulumi.acme.yaml").read_text())
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  pilot:customer: broken\n")
    (tmp_path / "Pulumi.other.yaml").write_text((ROOT / "Pulumi.acme.yaml").read_text())
    stacks = discover_stacks(tmp_path)
    assert list(stacks.specs) == ["acme"]
    assert sorted(stacks.invalid) == ["broken", "other"]
    assert "expected 'other', the customer in the file name" in stacks.invalid["other"]


def test_progress_plain_lines():
    stream = io.StringIO()
    progress = Progress(stream)
    progress.step(1, 4, "account 123456789012 reached")
    progress.close()
    assert stream.getvalue() == "fleet: scan step 1/4: account 123456789012 reached\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_terminal_bar():
    stream = Terminal()
    progress = Progress(stream)
    progress.step(2, 4, "account 123456789012: s3 in us-east-1 read")
    progress.close()
    text = stream.getvalue()
    assert text.startswith("\r[" + "#" * 15 + "-" * 15 + "] 2/4 scan steps, 0 tenants checked")
    assert text.endswith("\x1b[K\n")
