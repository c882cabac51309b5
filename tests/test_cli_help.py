"""Every ``discovery ... --help`` prints plain text: no doubled ``%`` and no unformatted ``%(``."""

import argparse

import pytest

from discovery import cli


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_every_subcommand_is_checked():
    assert len(_subcommands()) == len(cli.COMMANDS) >= 8


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in
                                                 ("tasks", "demo", "run", "inspect", "export", "compare",
                                                  "baselines", "hypothesis")])
def test_help_has_no_doubled_percent(argv, capsys):
    text = _help(argv, capsys)
    assert "%%" not in text and "%(" not in text, [line for line in text.splitlines() if "%" in line]
    if argv[0] != "--help":
        assert argv[0] in _subcommands()


def test_the_hypothesis_help_states_its_intervals_once(capsys):
    assert "95% intervals" in " ".join(_help(["hypothesis", "--help"], capsys).split())


@pytest.mark.parametrize("percent", ["%", "%%"])
def test_a_percent_in_a_subcommand_summary_prints_as_one(percent):
    parser = argparse.ArgumentParser(prog="p")
    sub = parser.add_subparsers()
    cli.subparser(sub, "x", f"100{percent} plain text", f"95{percent} intervals")
    cli.subparser(sub, "y", f"50{percent} summary")
    top = parser.format_help()
    assert "100% plain" in top and "50% summary" in top and "%%" not in top
    assert "95% intervals" in sub.choices["x"].format_help() and "%%" not in sub.choices["x"].format_help()
    assert "50% summary" in sub.choices["y"].format_help()
