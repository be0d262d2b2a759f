"""Print requirements.txt's pins of the engine's own dependencies (pyproject.toml), as
pip constraints for docker/Dockerfile: the image gets the versions the tests ran with.

psycopg2 is left to the base image (Debian's/Ubuntu's package, built against its libpq):
pip would otherwise compile it.
"""

import re
import sys

import tomllib

BASE_IMAGE_PROVIDES = {"psycopg2"}


def name(requirement: str) -> str:
    return re.split(r"[<>=~!;\[\s]", requirement.strip(), maxsplit=1)[0].lower()


def main(pyproject: str, requirements: str) -> None:
    with open(pyproject, "rb") as stream:
        wanted = {name(dep) for dep in tomllib.load(stream)["project"]["dependencies"]}
    with open(requirements, encoding="utf-8") as stream:
        for line in stream:
            requirement = line.split("#", 1)[0].strip()
            pinned = requirement and not requirement.startswith("-")
            if pinned and name(requirement) in wanted - BASE_IMAGE_PROVIDES:
                print(requirement)


if __name__ == "__main__":
    main(*sys.argv[1:])
