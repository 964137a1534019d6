"""requirements.lock (scripts/app-lock) is requirements.txt with hashes: the same packages at the
same versions, each with a sha256 for every wheel the image may install, and nothing else."""

import pathlib
import re

APP = pathlib.Path(__file__).resolve().parent.parent


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, version = line.split()[0].split("==")
            found[name] = version
    return found


def test_the_lock_pins_what_the_requirements_pin_each_with_a_hash():
    lock = (APP / "requirements.lock").read_text()
    assert pins(lock) == pins((APP / "requirements.txt").read_text()), "run scripts/app-lock"
    for entry in lock.replace("\\\n", " ").splitlines():
        if entry.strip() and not entry.startswith("#"):
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", entry)
            assert hashes, f"no sha256 for {entry.split()[0]}"
