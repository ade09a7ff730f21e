"""Every command the README and the manual (docs/) show parses as written: the command,
script or module exists and takes those flags, the config files it names exist, and its
KEY VALUE overrides are config keys. What each command then does is run by the tests of
its tool (the own-data commands by test_own_data.py, make test and make demo by CI)."""

import argparse
import glob
import os
import re
import runpy
import shlex
import sys

import seg_d2
from seg_d2.config_setup import load_config

import pytest
from helpers import REPO

# Shown as a pattern to fill in (..., [optional], my_images/, an upper-case word such as
# LAYOUT or OUTPUT_DIR), or not seg_d2's to check: installing, pytest itself.
PLACEHOLDER = re.compile(r"\.\.\.|\[|my_images/|(?<![\w.$])[A-Z][A-Z_]+(?![\w.])")
NOT_OURS = ("pip install", "python -m pytest", "export PATH", "mkdocs ", "mlflow ", "wandb ")


def readme_commands():
    text = ""
    for page in ["README.md"] + sorted(glob.glob("docs/*.md", root_dir=REPO)):
        with open(os.path.join(REPO, page), encoding="utf-8") as f:
            text += f.read()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines += block.replace("\\\n", " ").splitlines()
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:  # and its inline ones
        lines += re.findall(r"`((?:python|make) [^`]+)`", f.read())
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if (
            words
            and not line.startswith(NOT_OURS)
            and not PLACEHOLDER.search(line)
            and "=" not in words[0]
        ):
            commands.append(words)
    return commands


class _Parsed(Exception):
    def __init__(self, namespace):
        super().__init__()
        self.namespace = namespace


def _parse(words, monkeypatch):
    """The namespace the command's own argument parser makes of ``words``."""
    for method in ("parse_args", "parse_intermixed_args"):
        parse = getattr(argparse.ArgumentParser, method)

        def parse_and_stop(parser, args=None, namespace=None, parse=parse):
            raise _Parsed(parse(parser, args, namespace))

        monkeypatch.setattr(argparse.ArgumentParser, method, parse_and_stop)
    if words[0].endswith("/seg-d2"):  # the environment's own, by its path
        words = ["seg-d2", *words[1:]]
    if words[0] in ("torchrun", "srun"):  # a launcher's options, then the script's
        words = words[next(i for i, word in enumerate(words) if word.endswith(".py")) :]
    program, *arguments = words[1:] if words[0] in ("python", "$PY") else words
    if program == "seg-d2":
        from seg_d2.cli import main

        if arguments == ["--help"]:  # the command's own listing, no parser
            assert main(arguments) == 0
            return argparse.Namespace()
        monkeypatch.setattr(sys, "argv", words)
        run = lambda: main(arguments)  # noqa: E731
    elif program == "-m":
        module, *arguments = arguments
        monkeypatch.setattr(sys, "argv", [module, *arguments])
        run = lambda: runpy.run_module(module, run_name="__main__", alter_sys=True)  # noqa: E731
    else:
        assert os.path.isfile(program), f"no such script {program}"
        monkeypatch.setattr(sys, "argv", [program, *arguments])
        run = lambda: runpy.run_path(program, run_name="__main__")  # noqa: E731
    try:
        run()
    except _Parsed as parsed:
        return parsed.namespace
    except SystemExit as error:
        pytest.fail(f"{' '.join(words)}: its parser refused it (exit {error.code})")
    pytest.fail(f"{' '.join(words)}: ended without parsing arguments")


def test_the_readme_shows_the_commands_this_test_reads():
    commands = [" ".join(words[:3]) for words in readme_commands()]
    for expected in (
        "make demo",
        "make test",
        "seg-d2 convert mask-folders",
        "seg-d2 suggest",
        "seg-d2 predict --run",
        "python tools/combine_panoptic.py",
        "python tools/train_net.py",
    ):
        assert any(command.startswith(expected) for command in commands), expected


@pytest.mark.parametrize("words", readme_commands(), ids=lambda words: " ".join(words)[:80])
def test_readme_command_parses_as_written(words, monkeypatch):
    monkeypatch.chdir(REPO)
    if words[0] == "make":
        with open("Makefile") as f:
            assert re.search(rf"^{re.escape(words[1])}:", f.read(), re.M), (
                f"no make target {words[1]}"
            )
        return
    if words[0] == "sbatch":  # a batch script: it exists, and the config it is given
        script = next(i for i, word in enumerate(words) if word.endswith(".sbatch"))
        assert os.path.isfile(words[script]) and os.path.isfile(words[script + 1]), words
        return
    namespace = vars(_parse(words, monkeypatch))
    for name, value in namespace.items():
        if (name.endswith("config") or name == "config_file") and value is not None:
            assert os.path.isfile(value), f"{' '.join(words)}: no config {value}"
    if (namespace.get("config_file") or "").endswith(".py"):
        load_config(namespace["config_file"], namespace.get("opts") or [])  # checks keys
    elif namespace.get("config_file") and namespace.get("opts"):
        cfg = seg_d2.get_cfg()
        cfg.merge_from_file(namespace["config_file"])
        cfg.merge_from_list(namespace["opts"])  # an unknown key raises
